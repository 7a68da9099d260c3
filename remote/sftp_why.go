package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// sftpFailure is SSH_FX_FAILURE: what OpenSSH's sftp-server answers for
// every errno it has no code for, with the text "Failure" and no more. A
// full filesystem (ENOSPC, EDQUOT) and a read-only one (EROFS) both end
// there, so the upload's error would not say which.
const sftpFailure = 4

// whyTimeout bounds the question asked after such a failure: it only
// improves an error already on its way.
const whyTimeout = 10 * time.Second

// whyNotWritten asks the host, over exec, why the SFTP server could not
// create or write tmp (for a permission denied to a login other than root
// without sudo, it says that instead): whether a file can be created in its directory at
// all, and how much room that filesystem has. It also removes tmp. It
// returns "" when err is not a bare failure status or the host does not
// answer; otherwise words to append to the error.
func (c *Client) whyNotWritten(ctx context.Context, err error, tmp string, size int64) string {
	if errors.Is(err, fs.ErrPermission) && !c.sudo && c.user != "root" {
		// (pkg/sftp turns SSH_FX_PERMISSION_DENIED into fs.ErrPermission)
		return c.notRootHint()
	}
	var st *sftp.StatusError
	if !errors.As(err, &st) || st.Code != sftpFailure {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, whyTimeout)
	defer cancel()
	// The shell's own error for the create names the cause (its text after
	// the last ": "); an empty file needs no room, so a full filesystem
	// lets it be made and df says the rest.
	script := fmt.Sprintf(`t=%s; d=${t%%/*}/
rm -f -- "$t" 2>/dev/null
if ! e=$( { : > "$t"; } 2>&1 ); then printf 'create=%%s\n' "${e##*: }"; exit 0; fi
rm -f -- "$t"
df -Pk -- "$d" 2>/dev/null | awk 'NR==2 {print "kfree=" $4; print "mount=" $6}'
df -Pi -- "$d" 2>/dev/null | awk 'NR==2 {print "itotal=" $2; print "ifree=" $4}'
`, shellQuote(tmp))
	out, _, runErr := c.run(ctx, "check why "+tmp+" was not written", script, nil)
	if runErr != nil {
		return ""
	}
	facts := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			facts[k] = strings.TrimSpace(v)
		}
	}
	dir := tmp[:strings.LastIndex(tmp, "/")+1]
	if why := facts["create"]; why != "" {
		return fmt.Sprintf("; the host cannot create a file in %s: %s", dir, why)
	}
	kfree, kerr := strconv.ParseInt(facts["kfree"], 10, 64)
	ifree, ierr := strconv.ParseInt(facts["ifree"], 10, 64)
	if kerr != nil {
		return ""
	}
	where := dir
	if m := facts["mount"]; m != "" {
		where += " (filesystem mounted on " + m + ")"
	}
	switch {
	case size > 0 && kfree*1024 < size:
		return fmt.Sprintf("; no space left on the host: %s has %d KiB free, the file is %d KiB", where, kfree, (size+1023)/1024)
	case ierr == nil && ifree == 0 && facts["itotal"] != "0":
		// (btrfs and others count no inodes: a total of 0, not a full one)
		return fmt.Sprintf("; no inodes left on the host: %s has 0 free", where)
	}
	return fmt.Sprintf("; %s has %d KiB free", where, kfree)
}
