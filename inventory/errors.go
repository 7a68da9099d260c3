package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Problem is one mistake found in an inventory: where it is and what is wrong.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Key  string `json:"key,omitempty"`
	Msg  string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error carries every problem found, so the operator fixes them in one pass
// instead of one per run.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return "invalid inventory: " + lines[0]
	}
	return fmt.Sprintf("invalid inventory (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// collector gathers problems while decoding and validating.
type collector struct {
	file  string
	lines lineIndex
	list  []Problem
}

func (c *collector) addf(key string, format string, args ...any) {
	p := Problem{File: c.file, Line: c.lines.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
	// A mistake in [defaults] is found once per node that inherits it: say it once.
	if slices.Contains(c.list, p) {
		return
	}
	c.list = append(c.list, p)
}

// settingKey names where a node's setting is written: its own table, or
// [defaults] when the node inherits it, so that the operator is sent to the
// line to fix.
func (c *collector) settingKey(node, k string) string {
	own := Key("nodes", node, k)
	if _, ok := c.lines[own]; ok {
		return own
	}
	if _, ok := c.lines["defaults."+k]; ok {
		return "defaults." + k
	}
	return own
}

// inherits: the node does not set k in its own table.
func (c *collector) inherits(node, k string) bool {
	_, own := c.lines[Key("nodes", node, k)]
	return !own
}

func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	sort.SliceStable(c.list, func(i, j int) bool {
		a, b := c.list[i], c.list[j]
		if a.Line != b.Line {
			// problems without a line (whole-inventory ones) go last
			if a.Line == 0 || b.Line == 0 {
				return b.Line == 0 && a.Line != 0
			}
			return a.Line < b.Line
		}
		return a.Key < b.Key
	})
	return &Error{Problems: c.list}
}
