package inventory

import (
	"strings"
)

// lineIndex maps dotted key paths ("nodes.bb_emea_1.cluster") to the line
// where they are written. The TOML decoder keeps positions private, so a
// small scan of the text gives the operator a line to look at.
type lineIndex map[string]int

func indexLines(text string) lineIndex {
	idx := lineIndex{}
	scanKeys(text, func(n int, key string) {
		if _, ok := idx[key]; !ok {
			idx[key] = n
		}
	})
	return idx
}

// scanKeys calls found with each line that opens a table or sets a key, and
// the full dotted path it names.
func scanKeys(text string, found func(line int, key string)) {
	table := ""
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimSpace(stripComment(raw))
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			name := strings.Trim(line, "[] \t")
			table = Key(splitKey(name)...)
			found(n, table)
			continue
		}
		eq := strings.Index(line, "=")
		if eq <= 0 {
			continue
		}
		key := Key(splitKey(strings.TrimSpace(line[:eq]))...)
		if table != "" {
			key = table + "." + key
		}
		found(n, key)
	}
}

// keyOnLine is the table or key that line n opens or sets, or "" when it
// does neither (a continuation, a stray word).
func keyOnLine(text string, n int) string {
	key := ""
	scanKeys(text, func(line int, k string) {
		if line == n {
			key = k
		}
	})
	return key
}

// lineOfOffset is the line holding byte offset off. A newline belongs to the
// line it ends: a mistake found at the end of a line is on that line.
func lineOfOffset(text string, off int) int {
	off = min(max(off, 0), len(text))
	return strings.Count(text[:off], "\n") + 1
}

// line finds the key, or the closest enclosing table that is written down.
func (idx lineIndex) line(key string) int {
	for key != "" {
		if n, ok := idx[key]; ok {
			return n
		}
		parts := splitKey(key)
		if len(parts) < 2 {
			break
		}
		key = Key(parts[:len(parts)-1]...)
	}
	return 0
}

// stripComment removes a trailing # comment that is not inside quotes.
func stripComment(s string) string {
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && r == '#':
			return s[:i]
		}
	}
	return s
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote = r
		case r == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

// Key writes a key path as TOML does: parts joined by dots, a part that is
// not a bare key (A-Za-z0-9_-) quoted, so that a name holding a dot
// (clusters."EDGE.AMS".leaf_of) reads as one part. Problems and warnings
// name their key so.
func Key(parts ...string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = keyPart(p)
	}
	return strings.Join(quoted, ".")
}

func keyPart(p string) string {
	bare := p != ""
	for _, r := range p {
		bare = bare && (r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}
	if bare {
		return p
	}
	return `"` + keyEscaper.Replace(p) + `"`
}

// keyEscaper escapes what a TOML basic string cannot hold as itself.
var keyEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
