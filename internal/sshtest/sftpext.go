package sshtest

import (
	"encoding/binary"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// pkg/sftp's server announces posix-rename@openssh.com but has no
// fsync@openssh.com, which OpenSSH's sftp-server (and so every host dcctl
// uploads to) has. sftpExtensions stands between the channel and pkg/sftp's
// server to make it the server a test asks for (Server.SFTPFsync,
// Server.SFTPNoPosixRename): it rewrites the extensions the server
// announces, and answers fsync itself, fsyncing the file the handle was
// opened on.

const (
	sftpVersionPacket  = 2   // SSH_FXP_VERSION
	sftpOpenPacket     = 3   // SSH_FXP_OPEN
	sftpHandlePacket   = 102 // SSH_FXP_HANDLE
	sftpExtendedPacket = 200 // SSH_FXP_EXTENDED
)

type sftpExtensions struct {
	ch      io.ReadWriteCloser
	fsync   bool
	noPosix bool
	fsyncs  *atomic.Int64

	in *io.PipeReader // what the server reads: the client's packets but the fsyncs

	mu      sync.Mutex // the writes to ch, whole packets each
	out     []byte
	opening map[uint32]string // open request id → path
	handles map[string]string // handle → path
}

func newSFTPExtensions(ch io.ReadWriteCloser, fsync, noPosix bool, fsyncs *atomic.Int64) *sftpExtensions {
	pr, pw := io.Pipe()
	e := &sftpExtensions{ch: ch, fsync: fsync, noPosix: noPosix, fsyncs: fsyncs, in: pr,
		opening: map[uint32]string{}, handles: map[string]string{}}
	go func() { pw.CloseWithError(e.readClient(pw)) }()
	return e
}

func (e *sftpExtensions) Read(p []byte) (int, error) { return e.in.Read(p) }
func (e *sftpExtensions) Close() error               { return e.ch.Close() }

// readClient forwards the client's packets to the server, answering fsync.
func (e *sftpExtensions) readClient(w io.Writer) error {
	for {
		var n [4]byte
		if _, err := io.ReadFull(e.ch, n[:]); err != nil {
			return err
		}
		pkt := make([]byte, 4+binary.BigEndian.Uint32(n[:]))
		copy(pkt, n[:])
		if _, err := io.ReadFull(e.ch, pkt[4:]); err != nil {
			return err
		}
		body := pkt[4:]
		if len(body) >= 5 {
			id := binary.BigEndian.Uint32(body[1:5])
			switch body[0] {
			case sftpOpenPacket:
				if name, _, ok := sftpString(body[5:]); ok {
					e.mu.Lock()
					e.opening[id] = string(name)
					e.mu.Unlock()
				}
			case sftpExtendedPacket:
				if name, rest, ok := sftpString(body[5:]); ok && e.fsync && string(name) == "fsync@openssh.com" {
					handle, _, _ := sftpString(rest)
					e.answerFsync(id, string(handle))
					continue
				}
			}
		}
		if _, err := w.Write(pkt); err != nil {
			return err
		}
	}
}

// answerFsync fsyncs the file handle was opened on and sends the status.
func (e *sftpExtensions) answerFsync(id uint32, handle string) {
	e.mu.Lock()
	p, ok := e.handles[handle]
	e.mu.Unlock()
	code := uint32(4) // SSH_FX_FAILURE
	if ok {
		if f, err := os.Open(p); err == nil {
			if f.Sync() == nil {
				code = 0
				e.fsyncs.Add(1)
			}
			f.Close()
		}
	}
	msg := []byte{sftpStatusPacket}
	msg = binary.BigEndian.AppendUint32(msg, id)
	msg = binary.BigEndian.AppendUint32(msg, code)
	msg = binary.BigEndian.AppendUint32(msg, 0) // message: empty
	msg = binary.BigEndian.AppendUint32(msg, 0) // language tag: empty
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ch.Write(binary.BigEndian.AppendUint32(nil, uint32(len(msg))))
	e.ch.Write(msg)
}

// Write takes the server's output, whole packets at a time.
func (e *sftpExtensions) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.out = append(e.out, p...)
	for len(e.out) >= 4 {
		n := int(binary.BigEndian.Uint32(e.out))
		if len(e.out) < 4+n {
			break
		}
		pkt := e.rewrite(e.out[:4+n])
		if _, err := e.ch.Write(pkt); err != nil {
			return 0, err
		}
		e.out = e.out[4+n:]
	}
	return len(p), nil
}

// rewrite notes the handles opened and gives the version packet the
// extensions asked for.
func (e *sftpExtensions) rewrite(pkt []byte) []byte {
	body := pkt[4:]
	if len(body) < 5 {
		return pkt
	}
	switch body[0] {
	case sftpHandlePacket:
		id := binary.BigEndian.Uint32(body[1:5])
		if h, _, ok := sftpString(body[5:]); ok {
			if p, ok := e.opening[id]; ok {
				e.handles[string(h)] = p
				delete(e.opening, id)
			}
		}
		return pkt
	case sftpVersionPacket:
		out := append([]byte{}, body[:5]...) // type, version
		rest := body[5:]
		for len(rest) > 0 {
			name, r, ok1 := sftpString(rest)
			data, r, ok2 := sftpString(r)
			if !ok1 || !ok2 {
				return pkt
			}
			rest = r
			if e.noPosix && string(name) == "posix-rename@openssh.com" {
				continue
			}
			out = appendSFTPString(appendSFTPString(out, name), data)
		}
		if e.fsync {
			out = appendSFTPString(appendSFTPString(out, []byte("fsync@openssh.com")), []byte("1"))
		}
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(out))), out...)
	}
	return pkt
}

func sftpString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func appendSFTPString(b, s []byte) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}
