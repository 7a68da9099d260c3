// Package remote is dcctl's only way onto a host: one SSH connection per host,
// reused for commands (Run), atomic file uploads (Put) and tunnelled dials
// (Dial, which the NATS side uses to reach servers that only SSH can reach).
//
// Choices worth knowing before changing anything here:
//
//   - Host keys are checked against the inventory's known_hosts with
//     golang.org/x/crypto/ssh/knownhosts (hostkeys.go). An unknown host is
//     refused unless AcceptNewHostKeys is set; a changed key is always fatal.
//   - Every command runs under POSIX sh (`sh -c '...'`, or `sudo -n sh -c '...'`
//     when Config.Sudo is set), whatever the login shell of the SSH user, so
//     callers write one dialect and quoting is done in one place (exec.go).
//   - Uploads stream the content into one exec session running a small sh
//     script (upload.go) rather than over SFTP. The script writes
//     <path>.dcctl-tmp, checks its sha256 on the host, chowns, chmods and
//     renames; it removes the temporary file itself on every failure. Because
//     the host does the cleanup, an upload cut off midway (client killed,
//     connection lost) still leaves the old file and no temporary file, which
//     an SFTP upload cannot promise; it also works the same with sudo (no
//     sftp-server to find and start through sudo), and costs one round trip
//     per file instead of four.
//
// Use:
//
//	clients, failed := remote.DialAll(ctx, cfgs, 10) // keyed by Config.Name
//	defer remote.CloseAll(clients)
//	c := clients["bb_emea_1"]
//	out, _, err := c.Run(ctx, "systemctl is-active nats-server")
//	sum, err := c.SHA256(ctx, "/etc/nats/nats-server.conf") // fs.ErrNotExist if absent
//	err = c.Put(ctx, remote.File{Path: "/etc/nats/nats-server.conf", Mode: 0o640,
//		Owner: "root", Group: "nats", Content: bytes.NewReader(conf), SHA256: confSum}, nil)
//	conn, err := c.DialContext(ctx, "tcp", "127.0.0.1:4222") // for nats.SetCustomDialer
package remote
