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
//   - Uploads go over SFTP (github.com/pkg/sftp, concurrent writes) to
//     <path>.dcctl-tmp, then a small sh script on the host checks its sha256,
//     chowns, chmods and renames it over <path>, removing the temporary file
//     on every failure (upload.go, sftp_put.go). One SFTP session per
//     connection serves every Put. Under sudo it is the host's sftp-server
//     started through `sudo -n` on an exec channel (the sshd's subsystem
//     would run as the login user). An SFTP transfer cut off midway leaves
//     the temporary file, never a changed target; the next Put replaces it and
//     provision's facts remove it.
//   - Config.Transfer = TransferExec streams the content into the install
//     script's stdin instead (one exec session per file; the host removes
//     the temporary file even when the connection drops). It is also what
//     Put falls back to, saying so once through Config.Log, on a host without
//     an sftp-server.
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
