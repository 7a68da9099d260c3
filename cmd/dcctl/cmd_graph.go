package main

import (
	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/templates"
)

func graphCommand() *cli.Command {
	return &cli.Command{
		Name:      "graph",
		Usage:     "print the topology as Graphviz DOT (each DC a box, the link between DCs and what crosses it, clusters, domains, routes, leaf links)",
		ArgsUsage: "[INVENTORY]",
		Description: "Pipe it to Graphviz for a picture:\n" +
			"  dcctl graph inventory.toml | dot -Tpng -o topology.png",
		Flags: []cli.Flag{inventoryFlag()},
		Action: func(c *cli.Context) error {
			inv, err := loadInventory(c, true)
			if err != nil {
				return err
			}
			_, err = c.App.Writer.Write(templates.Graph(inv))
			return err
		},
	}
}
