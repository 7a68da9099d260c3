package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dcctl/dcctl/provision"
)

// TestDocsCommandLinesExist: every dcctl command line that README.md and
// docs/*.md show (in code blocks and `code spans`) names a command that
// exists and only flags that command takes, so that an operator copying one
// is not refused by the binary.
func TestDocsCommandLinesExist(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	app := newApp(nil, nil, nil)
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range docCommandLines(string(data)) {
			seen++
			if msg := checkCommandLine(app, l.text); msg != "" {
				t.Errorf("%s:%d: %s: %s", filepath.Base(f), l.line, l.text, msg)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found only %d command lines in the docs: the scan is broken", seen)
	}
}

type docLine struct {
	line int
	text string
}

var (
	spanCommand  = regexp.MustCompile("`((?:\\S*/)?dcctl [^`]+)`")
	blockCommand = regexp.MustCompile(`(?:^|[\s;&|(])((?:\S*/)?dcctl [^#\n]+)`)
)

// docCommandLines finds `dcctl ...` in code spans, and lines of code blocks
// that run dcctl (up to a # comment).
func docCommandLines(text string) []docLine {
	var out []docLine
	inBlock := false
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		re := spanCommand
		if inBlock {
			re = blockCommand
		}
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			out = append(out, docLine{i + 1, strings.TrimSpace(m[1])})
		}
	}
	return out
}

// checkCommandLine walks the command names after dcctl, then checks every
// flag written (bare, or as [--flag ...]) against that command's flags.
func checkCommandLine(app *cli.App, line string) string {
	words := strings.Fields(line)[1:]
	if len(words) > 0 && (words[0] == "COMMAND" || strings.HasPrefix(words[0], "./")) {
		return "" // `dcctl COMMAND --help`, `go build -o bin/dcctl ./cmd/dcctl`
	}
	cmds, flags := app.Commands, app.Flags
	var path []string
	for len(words) > 0 {
		c := findCommand(cmds, words[0])
		if c == nil {
			break
		}
		path = append(path, c.Name)
		cmds, flags = c.Subcommands, append(append([]cli.Flag{}, app.Flags...), c.Flags...)
		words = words[1:]
		if words = skipUsageWords(words); len(words) > 0 && len(cmds) == 0 {
			break
		}
	}
	if len(path) == 0 {
		return "no such command"
	}
	if len(cmds) > 0 && len(words) > 0 && !strings.HasPrefix(words[0], "-") {
		if isPlaceholder(words[0]) {
			return "" // `dcctl runbook <its usage> ...`: no command to check against
		}
		return "no such command " + strings.Join(path, " ") + " " + words[0]
	}
	if path[0] == "node" && len(words) > 0 && !isPlaceholder(words[0]) && !strings.HasPrefix(words[0], "-") &&
		!slices.Contains(provision.UnitActions, words[0]) {
		return "node has no action " + words[0]
	}
	for _, w := range words {
		w = strings.TrimLeft(w, "[(|")
		if !strings.HasPrefix(w, "-") || w == "-" || w == "--" {
			continue
		}
		name := strings.TrimLeft(strings.TrimRight(strings.SplitN(w, "=", 2)[0], "]).,…\\"), "-")
		if name == "help" || name == "h" || !isFlagName(name) {
			continue
		}
		if !hasFlag(flags, name) {
			return strings.Join(path, " ") + " takes no --" + name
		}
	}
	return ""
}

// skipUsageWords leaves out the synopsis's alternatives (start|stop|...).
func skipUsageWords(words []string) []string {
	if len(words) > 0 && strings.Contains(words[0], "|") && !strings.HasPrefix(words[0], "-") {
		return words[1:]
	}
	return words
}

func isPlaceholder(w string) bool {
	return strings.ToUpper(w) == w || strings.HasPrefix(w, "<") || strings.HasPrefix(w, "[")
}

var flagName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func isFlagName(s string) bool { return flagName.MatchString(s) }

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}
