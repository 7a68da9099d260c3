package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// hostBars draws a progress bar per host on a terminal (mpb): the bytes of
// each host's nats-server upload, and each replica's catch-up while a gate
// or runbook waits for it. Off a terminal newHostBars returns nil: the run
// writes its plain lines exactly as it always did, for logs and CI.
//
// It is also the run's log writer while bars are drawn: mpb prints those
// lines above the bars, so the two never share a line.
type hostBars struct {
	w    io.Writer
	opts []mpb.ContainerOption

	mu   sync.Mutex
	p    *mpb.Progress // made at the first bar, so a run without any draws nothing
	bars map[string]*bar
}

type bar struct {
	b     *mpb.Bar
	total int64
}

// newHostBars returns bars drawn on w when w is a terminal, else nil.
func newHostBars(w io.Writer) *hostBars {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return drawBars(w)
}

// drawBars draws on w whatever it is; tests give it a buffer. Off a real
// terminal mpb refreshes only when asked to, so the refresh is forced.
func drawBars(w io.Writer, opts ...mpb.ContainerOption) *hostBars {
	return &hostBars{w: w, bars: map[string]*bar{},
		opts: append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithAutoRefresh()}, opts...)}
}

// upload is provision's ApplyOptions.Upload: node's binary upload has sent
// written of total bytes.
func (h *hostBars) upload(node string, written, total int64) {
	h.set(node+" nats-server", written, total, decor.CountersKibiByte("% .1f / % .1f"))
}

// catchUp is provision's SessionOptions.CatchUp: server's replica of stream
// is lag messages behind. The bar's length is the largest lag seen, so it
// fills as the replica catches up.
func (h *hostBars) catchUp(server, stream string, lag uint64) {
	key := server + " stream " + stream
	h.mu.Lock()
	total := int64(lag)
	if b := h.bars[key]; b != nil && b.total > total {
		total = b.total
	}
	h.mu.Unlock()
	h.set(key, total-int64(lag), total, decor.Any(func(s decor.Statistics) string {
		return fmt.Sprintf("lag %d", s.Total-s.Current)
	}))
}

// set moves the named bar to current of total, adding it (or a new one in
// place of a finished one) when needed. A bar leaves the screen once full.
func (h *hostBars) set(name string, current, total int64, counter decor.Decorator) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.bars[name]
	if b == nil || b.b.Completed() {
		if total <= 0 || current >= total {
			return // nothing to wait for: no bar
		}
		if h.p == nil {
			h.p = mpb.New(h.opts...)
		}
		b = &bar{b: h.p.AddBar(total, mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(counter)), total: total}
		h.bars[name] = b
	}
	if total != b.total {
		b.b.SetTotal(total, false)
		b.total = total
	}
	b.b.SetCurrent(current)
}

// Write prints log lines: above the bars while any are drawn, else as is.
func (h *hostBars) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == nil {
		return h.w.Write(p)
	}
	return h.p.Write(p)
}

// done removes the bars still drawn and waits until mpb has written every
// line given to Write; later lines go straight to the terminal.
func (h *hostBars) done() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == nil {
		return
	}
	// Lines given to Write are printed at mpb's next refresh; a bar to
	// drop makes sure one happens before Wait returns.
	flush := h.p.AddBar(1, mpb.BarRemoveOnComplete())
	flush.Abort(true)
	for _, b := range h.bars {
		b.b.Abort(true)
	}
	h.p.Wait()
	h.p, h.bars = nil, map[string]*bar{}
}
