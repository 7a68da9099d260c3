package sshtest

import (
	"encoding/binary"
	"io"
	"sync"
)

// OpenSSH's sftp-server answers a failed request with the status code's
// generic text only: a write that hit ENOSPC, or a create on a read-only
// filesystem, comes back as code 4 and "Failure", where pkg/sftp's server
// sends the errno's own words. openSSHStatus rewrites the status replies
// of pkg/sftp's server that way, so that a test sees what a real host
// sends (Server.OpenSSHStatus).

// sftpStatusText is OpenSSH's status_to_message(), by code.
var sftpStatusText = []string{"Success", "End of file", "No such file", "Permission denied",
	"Failure", "Bad message", "No connection", "Connection lost", "Operation unsupported"}

const sftpStatusPacket = 101 // SSH_FXP_STATUS

// openSSHStatus is the server side of an SFTP channel whose outgoing status
// packets carry OpenSSH's texts. Writes are reassembled into packets: the
// server may write a packet in pieces.
type openSSHStatus struct {
	io.ReadWriteCloser
	mu  sync.Mutex
	buf []byte
}

func (o *openSSHStatus) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	for len(o.buf) >= 4 {
		n := int(binary.BigEndian.Uint32(o.buf))
		if len(o.buf) < 4+n {
			break
		}
		pkt := rewriteStatus(o.buf[:4+n])
		if _, err := o.ReadWriteCloser.Write(pkt); err != nil {
			return 0, err
		}
		o.buf = o.buf[4+n:]
	}
	return len(p), nil
}

// rewriteStatus returns pkt (length-prefixed) with a status packet's
// message replaced by OpenSSH's text for its code; other packets as they are.
func rewriteStatus(pkt []byte) []byte {
	// length, type, id, code, message
	if len(pkt) < 4+1+4+4 || pkt[4] != sftpStatusPacket {
		return pkt
	}
	code := binary.BigEndian.Uint32(pkt[9:13])
	if int(code) >= len(sftpStatusText) {
		return pkt
	}
	msg := sftpStatusText[code]
	out := make([]byte, 13, 13+4+len(msg)+4)
	copy(out, pkt[:13])
	out = binary.BigEndian.AppendUint32(out, uint32(len(msg)))
	out = append(out, msg...)
	out = binary.BigEndian.AppendUint32(out, 0) // language tag: empty
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}
