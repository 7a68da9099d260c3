package runbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// Journal records one run as JSON lines, one per check, step, baseline and
// the run's outcome, so that an operator (or the next on-call) can see what
// happened and in which order after the terminal is gone. Every text goes
// through the redactor first: a password never reaches the file.
type Journal struct {
	path    string
	runbook string
	redact  func(string) string

	mu  sync.Mutex
	f   *os.File
	tee io.Writer
}

// Entry is one line of a journal.
type Entry struct {
	Time    time.Time `json:"time"`
	Runbook string    `json:"runbook"`
	// Phase is "run", "pre-check", "step", "post-check", "baseline" or
	// "proof" (which proof of a stream's data held; Result names it).
	Phase string `json:"phase"`
	Name  string `json:"name"`
	// Result is ok, failed, refused, skipped (already done), planned (dry
	// run), started, done, or interrupted (the run's last entry when it was
	// stopped: Ctrl-C, SIGTERM, or its deployment lock lost; Error says which).
	Result   string              `json:"result"`
	Error    string              `json:"error,omitempty"`
	Detail   string              `json:"detail,omitempty"`
	Duration float64             `json:"duration_seconds,omitempty"`
	Baseline *jetstream.Baseline `json:"baseline,omitempty"`
	Proof    *jetstream.Proof    `json:"proof,omitempty"`
}

// OpenJournal creates <dir>/.dcctl/journal/<UTC timestamp>-<runbook>.jsonl.
// redact may be nil.
func OpenJournal(dir, runbook string, redact func(string) string) (*Journal, error) {
	jdir := filepath.Join(dir, ".dcctl", "journal")
	if err := os.MkdirAll(jdir, 0o750); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if redact == nil {
		redact = func(s string) string { return s }
	}
	stamp := time.Now().UTC().Format("20060102T150405.000Z")
	// Two runs in one millisecond (a refusal, then a retry) each get their
	// own file; a digit after the Z keeps name order the order of the runs.
	var path string
	var f *os.File
	for i := 0; ; i++ {
		name := stamp
		if i > 0 {
			name += strconv.Itoa(i)
		}
		path = filepath.Join(jdir, name+"-"+runbook+".jsonl")
		var err error
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i >= 9 {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	return &Journal{path: path, runbook: runbook, redact: redact, f: f}, nil
}

// Tee writes every entry to w as well, as the same JSON line; nil writes
// none. An entry that cannot be written there is still in the file.
func (j *Journal) Tee(w io.Writer) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tee = w
}

// Path is the journal file.
func (j *Journal) Path() string { return j.path }

// Write appends one entry. A journal that cannot be written is reported on
// the next Close; the run itself goes on (losing the log must not leave a
// cluster half-changed).
func (j *Journal) Write(e Entry) {
	if j == nil {
		return
	}
	e.Time = time.Now().UTC()
	e.Runbook = j.runbook
	e.Name, e.Error, e.Detail = j.redact(e.Name), j.redact(e.Error), j.redact(e.Detail)
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		_, _ = j.f.Write(append(line, '\n'))
	}
	if j.tee != nil {
		_, _ = j.tee.Write(append(line, '\n'))
	}
}

// Baseline records a stream's baseline; phase says which ("before",
// "manifest").
func (j *Journal) Baseline(phase, stream string, b jetstream.Baseline) {
	j.Write(Entry{Phase: "baseline", Name: stream, Result: phase, Baseline: &b})
}

// Close flushes the journal to disk.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

// ReadJournal reads every entry of a journal file.
func ReadJournal(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	var out []Entry
	dec := json.NewDecoder(f)
	for dec.More() {
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("read journal %s: %w", path, err)
		}
		out = append(out, e)
	}
	return out, nil
}
