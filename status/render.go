package status

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dcctl/dcctl/jetstream"
	"github.com/dcctl/dcctl/words"
)

// Write renders the report as tables: per domain the JetStream summary and
// the RAFT meta group as natscli's `server report jetstream` shows them,
// then the streams, the hosts and the leafnode links; the warnings last, so
// that they are what stays on screen.
func (r *Report) Write(w io.Writer) {
	for i, d := range r.Domains {
		if i > 0 {
			fmt.Fprintln(w)
		}
		d.write(w, r.RefusedAccounts)
	}
	fmt.Fprintln(w)
	if len(r.DCs) > 0 {
		r.dcTable().write(w)
		fmt.Fprintln(w)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "Warnings:")
		for _, wn := range r.Warnings {
			tag := "WARNING"
			if wn.Level == LevelNotice {
				tag = "notice"
			}
			where := ""
			if wn.Domain != "" {
				where = "[" + wn.Domain + "] "
			}
			fmt.Fprintf(w, "  %s: %s%s\n", tag, where, wn.Message)
		}
		fmt.Fprintln(w)
	}
	verdict := "healthy"
	if !r.Healthy {
		n := 0
		for _, wn := range r.Warnings {
			if wn.Level == LevelDegraded {
				n++
			}
		}
		verdict = "DEGRADED (" + words.Count(n, "problem") + ")"
	}
	fmt.Fprintf(w, "Status at %s: %s (collected in %.1fs)\n", r.Time.Local().Format("2006-01-02 15:04:05"), verdict, r.Seconds)
}

// refusedNames is "account A (user U)", joined, for the streams a report
// could not read.
func refusedNames(refused []RefusedAccount) string {
	var names []string
	for _, a := range refused {
		names = append(names, "account "+a.Account+" (user "+a.User+")")
	}
	return strings.Join(names, ", ")
}

func (d *Domain) write(w io.Writer, refused []RefusedAccount) {
	leader := d.MetaLeader
	if leader == "" {
		leader = "NONE"
	}
	fmt.Fprintf(w, "Domain %s: cluster %s, %d servers, quorum %d, meta leader %s\n", d.Name, d.Cluster, d.ClusterSize, d.Quorum, leader)
	if d.LeafOf != "" {
		fmt.Fprintf(w, "Leaf cluster of %s\n", d.LeafOf)
	}
	fmt.Fprintln(w)

	d.summary().write(w)
	fmt.Fprintln(w)
	if len(d.Meta) > 0 {
		d.metaTable().write(w)
	} else if d.MetaError != "" {
		fmt.Fprintf(w, "RAFT meta group: %s\n", d.MetaError)
	}
	fmt.Fprintln(w)
	// A refused account's streams are missing from every domain: the
	// line says so where the operator reads the streams.
	notShown := ""
	if len(refused) > 0 && d.StreamsError == "" {
		notShown = "Not shown, login refused: the streams of " + refusedNames(refused) + "; see the warnings\n"
	}
	switch {
	case d.StreamsError != "":
		fmt.Fprintf(w, "Streams: could not be listed: %s\n\n", d.StreamsError)
	case len(d.Streams) == 0 && len(d.MissingStreams) == 0 && notShown != "":
		fmt.Fprintf(w, "Streams: none readable in domain %s\n%s\n", d.Name, notShown)
	case len(d.Streams) == 0 && len(d.MissingStreams) == 0:
		fmt.Fprintf(w, "Streams: none in domain %s\n\n", d.Name)
	default:
		d.streamTable().write(w)
		fmt.Fprintf(w, "%s\n", notShown)
	}
	d.hostTable().write(w)
	if note := d.leafSpreadNote(); note != "" {
		fmt.Fprintln(w, note)
	}
	if len(d.Views) > 0 {
		fmt.Fprintln(w)
		d.viewTable().write(w)
	}
	if len(d.Leafnodes) > 0 {
		fmt.Fprintln(w)
		d.leafTable().write(w)
	}
}

// summary is natscli's "JetStream Summary": the servers that answered, the
// meta leader starred, totals in the footer.
func (d *Domain) summary() *table {
	t := newTable("JetStream Summary: domain "+d.Name,
		"Server", "Cluster", "Domain", "Streams", "Consumers", "Messages", "Bytes", "Memory", "File", "API Req", "API Err")
	var streams, consumers int
	var msgs, bytes, mem, file, req, apiErr uint64
	for _, s := range d.Servers {
		if !s.Online || s.NATS == nil {
			continue
		}
		n := s.NATS
		name := s.Name
		if name == d.MetaLeader {
			name += "*"
		}
		t.add(name, n.Cluster, n.Domain, count(uint64(n.Streams)), count(uint64(n.Consumers)), count(n.Messages),
			ibytes(n.Bytes), ibytes(n.MemoryStore), ibytes(n.FileStore), count(n.APIRequests), apiErrors(n.APIErrors, n.APIRequests))
		streams += n.Streams
		consumers += n.Consumers
		msgs += n.Messages
		bytes += n.Bytes
		mem += n.MemoryStore
		file += n.FileStore
		req += n.APIRequests
		apiErr += n.APIErrors
	}
	t.footer = []string{"", "", "", count(uint64(streams)), count(uint64(consumers)), count(msgs), ibytes(bytes), ibytes(mem), ibytes(file), count(req), count(apiErr)}
	return t
}

func (d *Domain) metaTable() *table {
	t := newTable("RAFT Meta Group Information", "Name", "ID", "Leader", "Current", "Online", "Active", "Lag")
	for _, p := range d.Meta {
		lead := ""
		if p.Leader {
			lead = "yes"
		}
		active, lag := fmtDuration(time.Duration(p.ActiveMS)*time.Millisecond), count(p.Lag)
		if d.MetaLeader == "" {
			active, lag = "", "" // only a leader knows them
		}
		t.add(p.Name, p.ID, lead, strconv.FormatBool(p.Current), strconv.FormatBool(p.Online), active, lag)
	}
	return t
}

func (d *Domain) streamTable() *table {
	t := newTable("Streams", "Stream", "Storage", "Replicas", "DCs", "Leader", "Followers", "Messages", "Bytes", "Consumers", "State")
	for _, s := range d.Streams {
		var fs []string
		for _, p := range s.Peers {
			if !p.Leader {
				fs = append(fs, replicaState(p))
			}
		}
		state := "ok"
		if s.Problem != "" {
			state = "DEGRADED"
		}
		leader := s.Leader
		if leader == "" {
			leader = "NONE"
		}
		t.add(s.Label(), s.Storage, strconv.Itoa(s.Replicas), byDC(s.ReplicasByDC), leader, strings.Join(fs, ", "),
			count(s.Messages), ibytes(s.Bytes), strconv.Itoa(s.Consumers), state)
	}
	for _, name := range unlisted(d) {
		t.add(name, "", "", "", "NONE", "", "", "", "", "NO ANSWER")
	}
	return t
}

// byDC reads "emea:1 us:2": replicas per data center, in name order.
func byDC(m map[string]int) string {
	dcs := make([]string, 0, len(m))
	for dc := range m {
		dcs = append(dcs, dc)
	}
	sort.Strings(dcs)
	parts := make([]string, len(dcs))
	for i, dc := range dcs {
		parts[i] = fmt.Sprintf("%s:%d", dc, m[dc])
	}
	return strings.Join(parts, " ")
}

// replicaState reads like natscli's stream info: "bb_us_2 current" or
// "bb_emea_1 OFFLINE, 8 behind".
func replicaState(p Replica) string {
	var parts []string
	if p.Current {
		parts = append(parts, "current")
	} else {
		parts = append(parts, "outdated")
	}
	if !p.Online {
		parts = append(parts, "OFFLINE")
	}
	if p.Lag > 0 {
		parts = append(parts, count(p.Lag)+" behind")
	}
	return p.Name + " " + strings.Join(parts, " ")
}

// hostTable shows each node of the cluster as its host sees it: the systemd
// unit, whether the server answers, and its client connections.
func (d *Domain) hostTable() *table {
	cols := []string{"Server", "Host", "DC", "Unit", "NATS", "Healthz", "Version", "Uptime", "Connections", "RSS"}
	if d.LeafLinksAccepted != nil {
		cols = append(cols, "Leaf links")
	}
	t := newTable("Servers and hosts", cols...)
	for _, s := range d.Servers {
		unit := s.Unit
		if unit == "" {
			unit = "-"
		}
		nats := "OFFLINE"
		switch {
		case s.Standby && !s.Online:
			nats = "standby"
		case !s.Online && s.Monitoring == "answered":
			// It runs (its own monitoring port answered) but NATS from here
			// did not reach it: behind a cut between DCs, not dead.
			nats = "not reached, runs"
		}
		version, uptime, conns, rss := "", "", "", ""
		if s.Online && s.NATS != nil {
			nats = "online"
			version, uptime = s.NATS.Version, fmtDuration(s.NATS.Uptime)
			conns, rss = strconv.Itoa(s.NATS.Connections), ibytes(uint64(max(s.NATS.Mem, 0)))
		}
		row := []string{s.Name, s.Host, s.DC, unit, nats, healthzCell(s.Healthz), version, uptime, conns, rss}
		if d.LeafLinksAccepted != nil {
			links := ""
			if n, ok := d.LeafLinksAccepted[s.Name]; ok {
				links = strconv.Itoa(n)
			}
			row = append(row, links)
		}
		t.add(row...)
	}
	return t
}

// healthzCell is "ok", or the code and the server's reason ("503: JetStream
// can not lookup account ..."); "" when the server gave no verdict.
func healthzCell(h *jetstream.Health) string {
	switch {
	case h == nil:
		return ""
	case h.OK():
		return "ok"
	case h.Error == "":
		return strconv.Itoa(h.Code)
	}
	return fmt.Sprintf("%d: %s", h.Code, h.Error)
}

func (d *Domain) leafTable() *table {
	t := newTable("Leafnode links to "+d.LeafOf, "Server", "Account", "Hub server", "RTT")
	for _, l := range d.Leafnodes {
		hub := l.Hub
		if hub == "" {
			hub = "MISSING"
		}
		t.add(l.Server, l.Account, hub, fmtRTT(l.RTT))
	}
	return t
}

// dcTable says per data center what this machine reached.
func (r *Report) dcTable() *table {
	title := "Data centers, as reached from this machine"
	if r.NATSVia != "" {
		title += fmt.Sprintf(" (NATS through %s in %s)", r.NATSVia, r.NATSViaDC)
	}
	t := newTable(title, "DC", "Servers", "SSH", "NATS", "Monitoring", "State")
	for _, dc := range r.DCs {
		ssh := "-"
		if dc.SSHAsked {
			ssh = fmt.Sprintf("%d/%d", dc.SSHReachable, dc.Servers)
		}
		mon := ""
		if len(dc.NATSSilent) > 0 && dc.MonitorAsked {
			mon = monitoringCell(dc)
		}
		state := "ok"
		switch {
		case dc.Cut:
			state = "CUT OFF (partition or DC down)"
		case len(dc.NATSSilent) > 0 || len(dc.SSHUnreachable) > 0:
			state = "partly reached"
		}
		t.add(dc.Name, strconv.Itoa(dc.Servers), ssh, fmt.Sprintf("%d/%d", dc.NATSAnswered, dc.Servers), mon, state)
	}
	return t
}

// monitoringCell is the DC table's Monitoring cell: how many of the DC's
// NATS-silent servers answered on their monitoring ports, of those that
// could be asked. One whose host SSH did not reach was not asked at all
// (its port is reached through SSH): "the silent server does not answer"
// read as if it had been.
func monitoringCell(dc DC) string {
	down := 0
	for _, s := range dc.NATSSilent {
		if slices.Contains(dc.SSHUnreachable, s) {
			down++
		}
	}
	asked := len(dc.NATSSilent) - down
	switch {
	case down == 0:
		return silentAnswered(len(dc.MonitorAnswered), asked)
	case asked == 0 && down == 1:
		return "not asked: SSH to its host fails"
	case asked == 0:
		return fmt.Sprintf("not asked: SSH fails to all %d", down)
	}
	return fmt.Sprintf("%s; %d not asked (SSH fails)", silentAnswered(len(dc.MonitorAnswered), asked), down)
}

// silentAnswered is the DC table's Monitoring cell: "6 of 6 silent servers
// answer", "1 of 2 silent servers answers", "none of 3 silent servers
// answers".
func silentAnswered(answered, silent int) string {
	switch {
	case answered == 0 && silent == 1:
		return "the silent server does not answer"
	case answered == 0:
		return "none of " + words.Count(silent, "silent server") + " answers"
	}
	verb := "answer"
	if answered == 1 {
		verb = "answers"
	}
	return fmt.Sprintf("%d of %s %s", answered, words.Count(silent, "silent server"), verb)
}

// viewTable is the meta group as each DC's servers see it.
func (d *Domain) viewTable() *table {
	t := newTable("Meta group as each DC's servers see it (monitoring ports)", "DC", "Answered", "Meta leader", "Healthy peers", "Quorum")
	for _, v := range d.Views {
		if v.Error != "" {
			t.add(v.DC, "none", "no answer", "", "")
			continue
		}
		leader := v.MetaLeader
		switch {
		case leader == "":
			leader = "NONE"
		case v.HealthyPeers < v.Quorum:
			leader += " (no quorum)"
		}
		t.add(v.DC, strings.Join(v.Answered, ", "), leader, fmt.Sprintf("%d/%d", v.HealthyPeers, v.ClusterSize), strconv.Itoa(v.Quorum))
	}
	return t
}

// count writes n with thousands separators, as natscli does.
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ibytes writes a size in binary units: "0 B", "156 B", "1.2 KiB".
func ibytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// apiErrors is natscli's "1 / 0.636%" form.
func apiErrors(errs, total uint64) string {
	if errs == 0 || total == 0 {
		return count(errs)
	}
	return fmt.Sprintf("%s / %.3f%%", count(errs), float64(errs)*100/float64(total))
}

// fmtDuration rounds to what a reader needs: milliseconds below a second,
// seconds below an hour, minutes above.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

// fmtRTT shortens the server's RTT ("1.388365ms") to what matters ("1.4ms").
func fmtRTT(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	if d >= time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
