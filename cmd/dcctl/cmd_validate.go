package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/inventory"
	"github.com/dcctl/dcctl/pki"
	"github.com/dcctl/dcctl/words"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check an inventory (schema and topology) without connecting anywhere",
		ArgsUsage: "[INVENTORY]",
		Description: "Reports every mistake at once as FILE:LINE: KEY.PATH: what is wrong, and the\n" +
			"topology warnings (even-sized clusters, clusters too\n" +
			"small for R3, leaf clusters spread over DCs, a lazy sync_interval, nats-server\n" +
			"running as root).\n" +
			"Checks the local files the inventory names: nats.binary and ssh_key must exist\n" +
			"(a missing ssh_key is only a warning when SSH_AUTH_SOCK is set: the agent may hold\n" +
			"the key); a missing known_hosts is a warning (first contact needs\n" +
			"--accept-new-host-keys). With [tls] ca_file, cert_file and key_file (the operator's\n" +
			"own CA), every node's certificate must chain to the CA, be good for server and\n" +
			"client authentication, name the node's server name and addresses and not have\n" +
			"ended; one ending within 30 days is a warning. --skip-local-files checks the\n" +
			"inventory alone (a CI job).\n" +
			"--json: {file, valid, problems, warnings, nodes, clusters}, each problem and\n" +
			"warning {file, line, key, message}.\n" +
			"Exit 0 when valid (warnings included), 2 when not.",
		Flags: []cli.Flag{inventoryFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "skip-local-files", Usage: "do not check nats.binary, ssh_key, known_hosts and the operator's TLS files on this machine"}},
		Action: runValidate,
	}
}

type validateResult struct {
	File     string              `json:"file"`
	Valid    bool                `json:"valid"`
	Problems []inventory.Problem `json:"problems"`
	Warnings []inventory.Warning `json:"warnings"`
	Nodes    int                 `json:"nodes,omitempty"`
	Clusters int                 `json:"clusters,omitempty"`
}

func runValidate(c *cli.Context) error {
	if err := atMostInventoryArg(c); err != nil {
		return err
	}
	path := inventoryPath(c, true)
	res := validateResult{File: path, Problems: []inventory.Problem{}, Warnings: []inventory.Warning{}}
	inv, err := inventory.Load(path)
	var ie *inventory.Error
	switch {
	case errors.As(err, &ie):
		res.Problems = ie.Problems
	case err != nil:
		res.Problems = []inventory.Problem{{File: path, Msg: err.Error()}}
	default:
		res.Valid = true
		res.Warnings = inv.Warnings()
		res.Nodes, res.Clusters = len(inv.Nodes), len(inv.Clusters)
		if !c.Bool("skip-local-files") {
			problems, warnings := inv.CheckLocalFiles(os.Getenv("SSH_AUTH_SOCK") != "")
			certProblems, certWarnings := pki.Check(inv, time.Now())
			problems = append(problems, certProblems...)
			res.Problems = append(res.Problems, problems...)
			res.Warnings = append(res.Warnings, warnings...)
			res.Warnings = append(res.Warnings, certWarnings...)
			res.Valid = len(problems) == 0
		}
		if err := inventory.CheckSecretsFile(inv.File); err != nil {
			res.Valid = false
			res.Problems = append(res.Problems, inventory.Problem{File: inventory.SecretsPath(inv.File), Msg: err.Error()})
		}
	}
	out := c.App.Writer
	if c.Bool("json") {
		if err := writeJSON(out, res); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintf(c.App.ErrWriter, "error: %s\n", p)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(out, "warning: %s\n", w.Located())
		}
		if res.Valid {
			fmt.Fprintf(out, "%s: OK (%s in %s, %s)\n", path, words.Count(res.Nodes, "node"), words.Count(res.Clusters, "cluster"), words.Count(len(res.Warnings), "warning"))
		}
	}
	if !res.Valid {
		return refused(fmt.Errorf("%s: %s", path, words.Count(len(res.Problems), "problem")))
	}
	return nil
}
