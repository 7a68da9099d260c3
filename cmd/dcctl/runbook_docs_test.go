package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/runbooks"
)

// TestRunbooksDescribeThemselves: each runbook's own description is what
// the CLI's help, `runbook list`, README's command list and
// docs/runbooks.md say of it: its usage is in the docs' command list and
// heads its section there, with its summary as the section's first line.
func TestRunbooksDescribeThemselves(t *testing.T) {
	read := func(path string) string {
		data, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	readme, docs := read("README.md"), read("docs/runbooks.md")
	var readmeLines []string
	for _, l := range strings.Split(readme, "\n") {
		readmeLines = append(readmeLines, strings.Join(strings.Fields(l), " "))
	}
	list, _, code := runCLI(t, "runbook", "list")
	if code != 0 {
		t.Fatalf("runbook list: exit %d", code)
	}
	app := newApp(nil, nil, nil)
	for _, d := range runbooks.Catalog() {
		line := d.Command + " " + d.Usage
		if !strings.Contains(list, line+"\n  "+d.Short+"\n") {
			t.Errorf("runbook list does not show %q with its summary", line)
		}
		cmd := app.Command("runbook").Command(d.Name)
		if d.Command == "dcctl" {
			cmd = app.Command(d.Name)
		}
		if cmd == nil || cmd.Usage != d.Short {
			t.Errorf("%s: the CLI's help does not say %q", line, d.Short)
		}
		found := false
		for _, l := range readmeLines {
			found = found || strings.HasPrefix(l, line)
		}
		if !found {
			t.Errorf("README's command list has no line %q", line)
		}
		if !strings.Contains(docs, "\n"+line+"\n") {
			t.Errorf("docs/runbooks.md's command list has no line %q", line)
		}
		heading := "## " + d.Usage + "\n\n*" + strings.ToUpper(d.Short[:1]) + d.Short[1:] + ".*"
		if !strings.Contains(docs, heading) {
			t.Errorf("docs/runbooks.md has no section\n%s", heading)
		}
	}
}
