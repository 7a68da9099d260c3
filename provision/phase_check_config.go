package provision

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/dcctl/dcctl/remote"
	"github.com/dcctl/dcctl/templates"
)

// checkConfig has nats-server check the new configuration (`-t`) before it
// is installed: a config nats-server rejects never replaces the running
// one. The configs are copied into a check directory with the live files
// not being replaced, so that includes resolve as they will; the binary
// that checks them is the one that will run them (the new one, if any).
// The copies name a new TLS file by its upload (already verified by its
// sum) and a file not changed by its live path: the certificates -t loads
// are those that will be live, without copies of them. A fresh host runs
// this once per run, and every process is CPU the host's other work
// shares: one sed for both configs, no removal of a check directory that
// is not there.
type checkConfig struct{}

func (checkConfig) Title() string { return "check the new configuration with nats-server -t" }

func (checkConfig) ShouldRun(p *HostPlan) bool {
	for _, fc := range stagedText(p) {
		switch fc.File.Kind {
		case "config", templates.KindCert, templates.KindKey:
			return true
		}
	}
	return false
}

func checkDir(h *hostRun) string { return path.Join(h.s.Inv.NATS.ConfigDir, ".dcctl-check") }

func (checkConfig) Script(h *hostRun) string {
	nats := h.s.Inv.NATS
	stage := shellQuote(checkDir(h))
	staged := map[string]bool{}
	for _, fc := range stagedText(h.p) {
		staged[fc.File.Path] = true
	}
	bin := shellQuote(nats.InstallPath)
	if b := stagedBinary(h.p); b != nil {
		bin = shellQuote(b.File.Path + remote.TempSuffix)
	}
	var b strings.Builder
	// A copy that fails (config_dir's filesystem full) is not a config
	// nats-server rejected: it says so with stageFailed, and, like a
	// rejection, leaves neither the check directory nor the uploads. A
	// check directory left by an interrupted run is removed first.
	fmt.Fprintf(&b, "checkstage_failed() { rm -rf -- %[1]s; rm -f --%[2]s; echo %[3]s >&2; return 1; }\n", stage, stagedTemps(h.p), stageFailed)
	fmt.Fprintf(&b, "{ { [ ! -e %[1]s ] && [ ! -L %[1]s ]; } || rm -rf -- %[1]s; } && install -d -m 750 -o root -g %[2]s %[1]s || { checkstage_failed; return 1; }\n", stage, shellQuote(nats.User))
	paths := templates.PathsFor(h.s.Inv)
	var copies []string
	for _, p := range []string{paths.Config, paths.LeafRemotes} {
		if staged[p] {
			fmt.Fprintf(&b, "cp -p %s %s/%s || { checkstage_failed; return 1; }\n", shellQuote(p+remote.TempSuffix), stage, shellQuote(path.Base(p)))
		} else {
			fmt.Fprintf(&b, "{ [ ! -f %[1]s ] || cp -p %[1]s %[2]s/; } || { checkstage_failed; return 1; }\n", shellQuote(p), stage)
		}
		copies = append(copies, stage+"/"+shellQuote(path.Base(p)))
	}
	// The new TLS files, by their uploads' paths; sed -i edits each file it
	// is given on its own.
	var seds []string
	for _, p := range []string{paths.TLSCA, paths.TLSCert, paths.TLSKey} {
		if staged[p] {
			seds = append(seds, "-e", shellQuote(fmt.Sprintf(`s|"%s"|"%s"|g`, sedPattern(p), sedReplacement(p+remote.TempSuffix))))
		}
	}
	if len(seds) > 0 {
		fmt.Fprintf(&b, "set --; for f in %[1]s; do [ ! -f \"$f\" ] || set -- \"$@\" \"$f\"; done\n", strings.Join(copies, " "))
		fmt.Fprintf(&b, "[ $# -eq 0 ] || sed -i %s \"$@\" || { checkstage_failed; return 1; }\n", strings.Join(seds, " "))
	}
	// A new binary is run here first: a program of the wrong kind may wait
	// forever, hence the timeout; if -t fails, --version tells a binary that
	// does not run from a configuration it rejects.
	binRuns := ""
	if stagedBinary(h.p) != nil {
		binRuns = fmt.Sprintf("\n\ttout=$out\n\tbinruns() {\n%s\n}\n\tbinruns >/dev/null || { echo %s >&2; return 1; }\n\tout=$tout", binaryRunsScript(h), binaryFailed)
	}
	fmt.Fprintf(&b, `to=; if command -v timeout >/dev/null 2>&1; then to="timeout %[5]d"; fi
out=$($to %[1]s -t -c %[2]s/%[3]s 2>&1 </dev/null); rc=$?
rm -rf -- %[2]s
if [ $rc -ne 0 ]; then%[6]s
	printf '%%s\n' "$out" >&2; rm -f --%[4]s; return 1
fi`, bin, stage, shellQuote(templates.ConfigName), stagedTemps(h.p), remote.CheckTimeout, binRuns)
	return b.String()
}

// binaryFailed is the line the check writes to stderr when -t failed
// because the new binary does not run at all.
const binaryFailed = "dcctl-check-binary-does-not-run"

// Done names the new binary's release for the install's line: --version
// did not run (checkBinary), -t ran the binary instead; its build
// information says the release without running it again.
func (checkConfig) Done(h *hostRun, _ string) {
	if stagedBinary(h.p) == nil || h.version != "" {
		return
	}
	if v, err := ReadBinaryVersion(h.s.Inv.NATS.Binary); err == nil {
		h.version = "nats-server: " + v.NATS
	}
}

// stageFailed is the line the check writes to stderr when it could not
// copy the configuration into its check directory.
const stageFailed = "dcctl-check-stage-failed"

func (checkConfig) Explain(_ context.Context, h *hostRun, stderr string) error {
	if why, ok := strings.CutSuffix(strings.TrimSpace(stderr), binaryFailed); ok {
		return binaryDoesNotRun(h, strings.TrimSpace(why))
	}
	if why, ok := strings.CutSuffix(strings.TrimSpace(stderr), stageFailed); ok {
		return fmt.Errorf("could not copy the new configuration into %s on %s for its check by nats-server -t: %s; nothing installed, the old configuration stays",
			checkDir(h), h.node(), h.s.Secrets.Redact(strings.TrimSpace(why)))
	}
	msg := strings.ReplaceAll(stderr, checkDir(h)+"/", h.s.Inv.NATS.ConfigDir+"/")
	paths := templates.PathsFor(h.s.Inv)
	for _, p := range []string{paths.TLSCA, paths.TLSCert, paths.TLSKey} {
		msg = strings.ReplaceAll(msg, p+remote.TempSuffix, p)
	}
	return fmt.Errorf("nats-server rejected the new configuration, the old one stays in place: %s", h.s.Secrets.Redact(msg))
}

// sedPattern escapes s for a basic regular expression delimited by |.
func sedPattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.[]*^$|`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sedReplacement escapes s for the replacement of an s|...|...| command.
func sedReplacement(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\&|`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
