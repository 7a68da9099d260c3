package inventory

import (
	"fmt"
	"sort"
)

// table is a decoded TOML table being read key by key. Every key read is
// marked, so whatever is left over is an unknown key.
type table struct {
	path string
	m    map[string]any
	seen map[string]bool
	c    *collector
}

func newTable(c *collector, path string, v any) *table {
	m, ok := v.(map[string]any)
	if !ok {
		c.addf(path, "must be a table ([%s]), not %s", path, tomlType(v))
		m = map[string]any{}
	}
	return &table{path: path, m: m, seen: map[string]bool{}, c: c}
}

func (t *table) key(k string) string {
	if t.path == "" {
		return keyPart(k)
	}
	return t.path + "." + keyPart(k)
}

func (t *table) get(k string) (any, bool) {
	t.seen[k] = true
	v, ok := t.m[k]
	return v, ok
}

func (t *table) str(k string, def string) string {
	v, ok := t.get(k)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		t.c.addf(t.key(k), "must be a string, not %s", tomlType(v))
		return def
	}
	return s
}

func (t *table) integer(k string, def int) int {
	v, ok := t.get(k)
	if !ok {
		return def
	}
	i, ok := v.(int64)
	if !ok {
		t.c.addf(t.key(k), "must be an integer, not %s", tomlType(v))
		return def
	}
	return int(i)
}

func (t *table) boolean(k string, def bool) bool {
	v, ok := t.get(k)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		t.c.addf(t.key(k), "must be true or false, not %s", tomlType(v))
		return def
	}
	return b
}

func (t *table) strings(k string) []string {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		t.c.addf(t.key(k), "must be a list of strings, not %s", tomlType(v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			t.c.addf(t.key(k), "element %d must be a string, not %s", i+1, tomlType(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

// sub reads a nested table; a missing one is empty.
func (t *table) sub(k string) *table {
	v, ok := t.get(k)
	if !ok {
		return newTable(t.c, t.key(k), map[string]any{})
	}
	return newTable(t.c, t.key(k), v)
}

// names lists the keys of a table of tables (accounts, clusters, nodes) in order.
func (t *table) names() []string {
	out := make([]string, 0, len(t.m))
	for k := range t.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// done reports every key that was not read: unknown keys are errors, since a
// misspelt key silently ignored is a setting the operator believes is applied.
func (t *table) done(known ...string) {
	for _, k := range t.names() {
		if !t.seen[k] {
			hint := ""
			if len(known) > 0 {
				hint = fmt.Sprintf(" (known keys: %s)", joinList(known))
			}
			t.c.addf(t.key(k), "unknown key%s", hint)
		}
	}
}

func joinList(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	default:
		return "a date/time"
	}
}
