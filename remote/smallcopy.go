package remote

import "io"

// x/crypto/ssh copies a session's stderr into its Stderr writer with
// io.Copy, in a goroutine that lives as long as the session. Without a
// ReadFrom on the writer, io.Copy holds a 32 KiB buffer all that time; the
// lock's session and the SFTP session of every host stay open for a whole
// run, so at a thousand hosts that was 64 MB of buffers (and more of the
// peak, with the garbage collector's headroom) for a few bytes of stderr.
// The writers here read it through a small buffer instead.

// smallCopyBuffer is what a session's stderr is read through.
const smallCopyBuffer = 512

// readSmall reads r to its end through a small buffer, passing each read to
// write, as io.ReaderFrom does.
func readSmall(r io.Reader, write func([]byte) (int, error)) (int64, error) {
	buf := make([]byte, smallCopyBuffer)
	var n int64
	for {
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
