package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/graceful"
)

// yesFlag skips the confirmation of commands that stop, kill, remove or
// overwrite something (see confirm).
func yesFlag() cli.Flag {
	return &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do it without asking for confirmation"}
}

// confirm asks question on the terminal before a destructive step and
// returns nil only on a yes. --yes answers for the operator. Without a
// terminal on stdin and without --yes it refuses (exit 2) before anything
// changed: a script must say --yes explicitly rather than pipe a "y" in, so
// that nobody kills a node by piping the wrong file into dcctl.
func confirm(c *cli.Context, question string) error {
	if c.Bool("yes") {
		return nil
	}
	in := c.App.Reader
	if !isTerminal(in) {
		return refused(fmt.Errorf("%s: refusing without confirmation: stdin is not a terminal; pass --yes to confirm", strings.TrimSuffix(question, "?")))
	}
	// An interrupt ends the question: the read itself cannot be cut, so it
	// is left behind (dcctl exits soon after).
	ctx, cancel := graceful.Cut(c.Context)
	defer cancel()
	type answer struct {
		ok  bool
		err error
	}
	got := make(chan answer, 1)
	go func() {
		ok, err := ask(in, c.App.ErrWriter, question)
		got <- answer{ok, err}
	}()
	var a answer
	select {
	case a = <-got:
	case <-ctx.Done():
		fmt.Fprintln(c.App.ErrWriter)
		return context.Cause(ctx)
	}
	ok, err := a.ok, a.err
	if err != nil {
		return refused(fmt.Errorf("%s: no answer: %w", strings.TrimSuffix(question, "?"), err))
	}
	if !ok {
		return refused(errors.New("not confirmed: nothing was changed"))
	}
	return nil
}

// ask writes question to w and reads one line from r: y or yes (any case)
// is a yes, anything else a no.
func ask(r io.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprintf(w, "%s [y/N] ", question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		fmt.Fprintln(w)
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// isTerminal reports whether r is a character device other than /dev/null,
// without a terminal library: under CI stdin is often /dev/null, which is a
// character device too and must count as "no terminal".
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}
