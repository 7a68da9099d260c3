package provision

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ClockSkewLimit is how far a host's clock may be from this machine's
// before dcctl says so. Certificates dcctl issues are valid from an hour
// before their issue, so a clock behind by minutes does not yet break TLS,
// but a clock that drifts unattended does in the end, and logs whose times
// disagree by more than a few seconds mislead whoever lines them up.
const ClockSkewLimit = 5 * time.Second

// ClockOffset is how far a clock read at host is from this machine's, the
// reading having been asked for at sent and answered at received (this
// machine's clock): 0 when it falls between them, else the distance to the
// nearer end (positive: the host is ahead). The round trip's own time never
// counts as skew.
func ClockOffset(host, sent, received time.Time) time.Duration {
	switch {
	case host.Before(sent):
		return host.Sub(sent)
	case host.After(received):
		return host.Sub(received)
	}
	return 0
}

// DescribeClockOffset reads "42 s ahead of this machine's", "3 min 10 s
// behind this machine's".
func DescribeClockOffset(d time.Duration) string {
	dir := "ahead of"
	if d < 0 {
		dir, d = "behind", -d
	}
	d = d.Round(time.Second)
	var s string
	switch {
	case d >= time.Hour:
		s = fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		s = fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		s = fmt.Sprintf("%d s", int(d.Seconds()))
	}
	return s + " " + dir + " this machine's"
}

// ClockWarning is the warning about hosts whose clocks are off ("" when
// none is), each given as "NAME (HOST) 42 s ahead of this machine's".
func ClockWarning(off []string) string {
	if len(off) == 0 {
		return ""
	}
	return fmt.Sprintf("host clock off by more than %s: %s. TLS certificates are checked against each host's clock and logs are stamped with it: set up time synchronisation there (chrony or systemd-timesyncd), or fix this machine's clock if it is the one that is off",
		ClockSkewLimit, strings.Join(off, ", "))
}

// ClockWarnings is ClockWarning for the hosts of plans whose clock was read.
func ClockWarnings(plans []*HostPlan) string {
	var off []string
	for _, p := range plans {
		if p.Facts == nil || p.Facts.Clock.IsZero() {
			continue
		}
		if d := p.Facts.ClockOffset; d > ClockSkewLimit || d < -ClockSkewLimit {
			off = append(off, fmt.Sprintf("%s (%s) %s", p.Node.Name, p.Node.Host, DescribeClockOffset(d)))
		}
	}
	return ClockWarning(off)
}

// parseClock reads "SECONDS.NANOSECONDS" (or whole seconds) as a time; the
// zero time when it cannot.
func parseClock(s string) time.Time {
	sec, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	var ns int64
	if len(frac) > 0 && len(frac) <= 9 {
		if v, err := strconv.ParseInt(frac, 10, 64); err == nil {
			ns = v
			for i := len(frac); i < 9; i++ {
				ns *= 10
			}
		}
	}
	return time.Unix(n, ns)
}
