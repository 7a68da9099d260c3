package provision

import (
	"fmt"
	"regexp"
	"strings"
)

// unifiedDiff returns a unified diff (3 lines of context) of two small text
// files, or "" when equal. Config files are a few dozen lines: a plain LCS
// table is fast enough and keeps this dependency-free.
func unifiedDiff(path string, a, b []byte) string {
	x := splitLines(string(a))
	y := splitLines(string(b))
	n, m := len(x), len(y)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int // line index in a (for ' ' and '-')
		bi   int // line index in b (for ' ' and '+')
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, op{' ', x[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', x[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', y[j], i, j})
			j++
		}
	}
	const ctx = 3
	var out strings.Builder
	changed := false
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		changed = true
		start := max(k-ctx, 0)
		end := k
		// extend the hunk while changes are within 2*ctx of each other
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		var aLen, bLen int
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				aLen++
			}
			if o.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", ops[start].ai+1, aLen, ops[start].bi+1, bLen)
		for _, o := range ops[start:end] {
			out.WriteByte(o.kind)
			out.WriteString(o.text)
			out.WriteByte('\n')
		}
		k = end
	}
	if !changed {
		return ""
	}
	return "--- " + path + " (on host)\n+++ " + path + " (rendered)\n" + out.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var (
	urlCredentials = regexp.MustCompile(`(://[^:/@\s"]+:)[^@\s"]+@`)
	passwordValue  = regexp.MustCompile(`(password:\s*)"[^"]*"`)
)

// redactConfig hides credentials in config text: the passwords in leafnode
// URLs (which may be old ones dcctl no longer knows) and the bcrypt hashes.
func redactConfig(s string) string {
	s = urlCredentials.ReplaceAllString(s, "${1}<redacted>@")
	return passwordValue.ReplaceAllString(s, `${1}"<redacted>"`)
}
