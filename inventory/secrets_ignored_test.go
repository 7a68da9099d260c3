package inventory_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dcctl/dcctl/inventory"
)

// TestSecretsFilesGitIgnored: the secrets file beside any inventory, in the
// lab, beside the example or anywhere else, is ignored by git, so that
// `git add -A` cannot commit passwords.
func TestSecretsFilesGitIgnored(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	if out, err := exec.Command("git", "rev-parse", "--is-inside-work-tree").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Skip("not in a git work tree (an exported source tree)")
	}
	for _, inv := range []string{"../lab/inventory.toml", "example.toml", "../inventory.toml", "../deploy/prod/dc-east.toml", "../lab/other.toml"} {
		secrets := inventory.SecretsPath(inv)
		// --no-index: the answer of the rules, whether or not a file is tracked
		if err := exec.Command("git", "check-ignore", "-q", "--no-index", secrets).Run(); err != nil {
			t.Errorf("%s is not git-ignored (git check-ignore: %v)", secrets, err)
		}
	}
}
