package provision

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	pretty "github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// Host outcomes in a recap.
const (
	StatusOK          = "ok"
	StatusChanged     = "changed"
	StatusFailed      = "failed"
	StatusUnreachable = "unreachable"
)

// HostResult is one host's line in the recap.
type HostResult struct {
	Node    string   `json:"node"`
	Host    string   `json:"host"`
	Status  string   `json:"status"`
	Changes []string `json:"changes"`
	Action  string   `json:"action,omitempty"`
	Error   string   `json:"error,omitempty"`
	// Note says why a node was left as it is (stopped by an operator).
	Note    string  `json:"note,omitempty"`
	Seconds float64 `json:"seconds"`
}

// Recap is the outcome of a run, per host.
type Recap struct {
	mu      sync.Mutex
	Hosts   []*HostResult `json:"hosts"`
	Seconds float64       `json:"seconds"`
}

func newRecap(plans []*HostPlan) *Recap {
	r := &Recap{}
	for _, p := range plans {
		h := &HostResult{Node: p.Node.Name, Host: p.Node.Host, Status: StatusOK, Changes: p.Summary(), Action: string(p.Action)}
		switch {
		case p.Unreachable != nil:
			h.Status, h.Error = StatusUnreachable, p.Unreachable.Error()
		case p.Err != nil:
			h.Status, h.Error = StatusFailed, p.Err.Error()
		case p.Changed():
			h.Status = StatusChanged
		}
		if h.Changes == nil {
			h.Changes = []string{}
		}
		if p.LeftStopped {
			h.Note = StoppedNote(p.Node.Name, p.Facts.StoppedBy)
		}
		r.Hosts = append(r.Hosts, h)
	}
	sort.Slice(r.Hosts, func(i, j int) bool { return r.Hosts[i].Node < r.Hosts[j].Node })
	return r
}

func (r *Recap) find(node string) *HostResult {
	for _, h := range r.Hosts {
		if h.Node == node {
			return h
		}
	}
	return nil
}

func (r *Recap) add(node string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.find(node)
	if h == nil {
		return
	}
	h.Seconds += d.Seconds()
	if err != nil {
		h.Status = StatusFailed
		h.Error = err.Error()
	}
}

func (r *Recap) ok(node string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.find(node)
	return h != nil && h.Status != StatusFailed && h.Status != StatusUnreachable
}

// Failed reports whether any host failed or could not be reached.
func (r *Recap) Failed() bool {
	for _, h := range r.Hosts {
		if h.Status == StatusFailed || h.Status == StatusUnreachable {
			return true
		}
	}
	return false
}

// Count returns how many hosts ended with status.
func (r *Recap) Count(status string) int {
	n := 0
	for _, h := range r.Hosts {
		if h.Status == status {
			n++
		}
	}
	return n
}

// Print writes the recap table: a row per host, its error and note on
// rows of their own under CHANGES, so that a long error does not widen
// the other columns.
func (r *Recap) Print(w io.Writer) {
	fmt.Fprintf(w, "\nRECAP (%.1fs)\n", r.Seconds)
	tw := pretty.NewWriter()
	st := pretty.StyleDefault
	st.Options = pretty.OptionsNoBordersAndSeparators
	st.Options.SeparateColumns = true
	st.Box.PaddingLeft, st.Box.PaddingRight, st.Box.MiddleVertical = "", "", "  "
	st.Format.Header = text.FormatDefault
	tw.SetStyle(st)
	tw.SuppressTrailingSpaces()
	tw.SetColumnConfigs([]pretty.ColumnConfig{{Name: "SECONDS", Align: text.AlignRight, AlignHeader: text.AlignRight}})
	tw.AppendHeader(pretty.Row{"NODE", "HOST", "STATUS", "SECONDS", "CHANGES"})
	for _, h := range r.Hosts {
		changes := strings.Join(h.Changes, ", ")
		if changes == "" {
			changes = "-"
		}
		tw.AppendRow(pretty.Row{h.Node, h.Host, h.Status, fmt.Sprintf("%.1f", h.Seconds), changes})
		if h.Error != "" {
			tw.AppendRow(pretty.Row{"", "", "", "", "error: " + h.Error})
		}
		if h.Note != "" {
			tw.AppendRow(pretty.Row{"", "", "", "", "note: " + h.Note})
		}
	}
	fmt.Fprintln(w, tw.Render())
	fmt.Fprintf(w, "ok=%d changed=%d failed=%d unreachable=%d\n", r.Count(StatusOK), r.Count(StatusChanged), r.Count(StatusFailed), r.Count(StatusUnreachable))
}
