package provision

import (
	"fmt"
	"time"

	"github.com/dcctl/dcctl/pki"
)

// certDiff says how a certificate file changes by what identifies a
// certificate (its SHA-256 fingerprint and end of validity), not its PEM.
func certDiff(path string, old, new []byte) string {
	return fmt.Sprintf("--- %s (on host): %s\n+++ %s (rendered): %s\n", path, certSummary(old), path, certSummary(new))
}

func certSummary(pemData []byte) string {
	end, err := pki.Expiry(pemData)
	if err != nil {
		return "not a certificate"
	}
	return fmt.Sprintf("certificate sha256 %s, valid until %s", pki.Fingerprint(pemData), end.UTC().Format(time.RFC3339))
}
