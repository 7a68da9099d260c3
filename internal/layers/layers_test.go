package layers

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/dcctl/dcctl/"

// rows reads the package table of docs/architecture.md: each package's
// row, top (0) to bottom.
func rows(t *testing.T, root string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "## Packages and import direction")
	if start < 0 {
		t.Fatal("docs/architecture.md has no section \"Packages and import direction\"")
	}
	section = section[start:]
	cell := regexp.MustCompile("`([a-z/]+)`")
	out := map[string]int{}
	row := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			if row > 0 && !strings.HasPrefix(line, "|") {
				break // the table ended
			}
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			out[m[1]] = row
		}
		row++
	}
	if len(out) < 8 {
		t.Fatalf("read only %v from the package table", out)
	}
	return out
}

// TestImportsGoOneWay parses every non-test Go file of the packages in the
// table and fails on each import of a package of the same row or above.
func TestImportsGoOneWay(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rank := rows(t, root)
	checked := 0
	for pkg, r := range rank {
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				dep, ok := rank[strings.TrimPrefix(path, module)]
				if !strings.HasPrefix(path, module) || !ok {
					continue
				}
				if dep <= r {
					t.Errorf("%s imports %s: %s is not below %s in docs/architecture.md's table", filepath.Join(pkg, filepath.Base(f)), path, strings.TrimPrefix(path, module), pkg)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("parsed only %d files: not the dcctl repository?", checked)
	}
}
