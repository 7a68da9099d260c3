package provision

import (
	"regexp"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// unifiedDiff returns a unified diff (3 lines of context) of two small text
// files, or "" when equal. go-difflib writes the hunks as diff -u does, so
// an operator reads --diff as any other patch.
func unifiedDiff(path string, a, b []byte) string {
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(a),
		B:        lines(b),
		FromFile: path + " (on host)",
		ToFile:   path + " (rendered)",
		Context:  3,
	})
	if err != nil {
		// It writes to a strings.Builder, which does not fail; say so
		// rather than show an empty diff for files that differ.
		return "(diff failed: " + err.Error() + ")\n"
	}
	return d
}

// lines splits text into lines that each end in a newline, as the diff
// writer expects (a last line without one would run into the next).
func lines(text []byte) []string {
	s := strings.TrimSuffix(string(text), "\n")
	if s == "" {
		return nil
	}
	return strings.SplitAfter(s+"\n", "\n")[:strings.Count(s, "\n")+1]
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
