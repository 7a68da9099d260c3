package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// ShortCause is the gist of why a host could not be reached or used over
// SSH, for a line an operator reads among others ("SSH to HOST: <cause>"):
// "connection refused", "no answer in time", "the connection was closed",
// without the chain that wraps it (the command that was to run, the key
// file's path). A host key error is given whole: it says what to do.
func ShortCause(err error) string {
	var unknown *UnknownHostKeyError
	var changed *HostKeyChangedError
	var revoked *RevokedHostKeyError
	var exit *ExitError
	var netErr net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &unknown) || errors.As(err, &changed) || errors.As(err, &revoked):
		return msg
	case errors.As(err, &exit):
		return exit.Error()
	case strings.Contains(msg, "stopped answering keepalives"):
		return "it stopped answering (keepalives unanswered)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (no sshd listening)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time"
	case strings.Contains(msg, "unable to authenticate"):
		return "authentication refused (check ssh_user and ssh_key)"
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), strings.Contains(msg, "connection reset"):
		return "the connection was closed"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	// The innermost error of a plain chain says what happened.
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
