package provision

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// shells are the POSIX shells a host may run dcctl's scripts in: Debian's
// dash as /bin/sh, and bash.
func shells(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sh := range []string{"dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("neither dash nor bash here")
	}
	return out
}

// cacheHost is a host's files for the facts cache: two installed files
// (one with a quote in its name), their sums stamp and an applied marker
// (without a final newline, which the shell's read takes too).
type cacheHost struct {
	dir, sums, marker, cache string
	files                    []string
}

func newCacheHost(t *testing.T) cacheHost {
	t.Helper()
	dir := t.TempDir()
	h := cacheHost{dir: dir, sums: filepath.Join(dir, ".dcctl-sums"), marker: filepath.Join(dir, ".dcctl-applied")}
	h.cache = factsCachePath(h.sums)
	var stamp strings.Builder
	for _, name := range []string{"nats-server", "it's.conf"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(name+"\n"), 0o640)
		sig, err := exec.Command("stat", "-c", statSignature, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		stamp.WriteString(strings.TrimSpace(string(sig)) + " " + sha256Hex([]byte(name+"\n")) + " " + p + "\n")
		h.files = append(h.files, p)
	}
	os.WriteFile(h.sums, []byte(stamp.String()), 0o644)
	os.WriteFile(h.marker, []byte(strings.Repeat("a", 64)+" "+h.files[0]+"\n"+strings.Repeat("b", 64)+" "+h.files[1]), 0o640)
	return h
}

// facts runs the facts script in sh; systemctl is not asked (no such unit
// here: its answer is the same either way).
func (h cacheHost) facts(t *testing.T, sh string) (*Facts, string) {
	t.Helper()
	out, err := exec.Command(sh, "-c", factsScript("root", "dcctl-test-no-such-unit", h.marker, h.sums, filepath.Join(h.dir, "stopped"), h.files, []string{h.dir})).Output()
	if err != nil {
		t.Fatalf("%s: facts script: %v", sh, err)
	}
	f, err := parseFacts(string(out))
	if err != nil {
		t.Fatalf("%s: %v\n%s", sh, err, out)
	}
	return f, string(out)
}

func (h cacheHost) writeCache(t *testing.T, sh string) {
	t.Helper()
	if out, err := exec.Command(sh, "-c", factsCacheScript(h.sums, h.marker)+"\n").CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("%s: the cache's script: %v, printed %q", sh, err, out)
	}
}

// TestFactsCacheGivesTheFactsOfTheFiles: the facts cache, written by the
// script every writer of the stamp or the marker runs, gives the facts the
// files give (a quote in a path, no final newline), in dash
// and in bash; the facts script sources it (a cache made to say other
// things than the files, with their signatures, is what the facts show);
// and it is not used once the marker changed, nor when others could have
// written it, nor when it is cut short.
func TestFactsCacheGivesTheFactsOfTheFiles(t *testing.T) {
	for _, sh := range shells(t) {
		h := newCacheHost(t)
		want, wantOut := h.facts(t, sh)
		if len(want.Applied) != 2 || want.Files[h.files[1]].SHA256 != sha256Hex([]byte("it's.conf\n")) {
			t.Fatalf("%s: facts without a cache: %+v", sh, want)
		}
		h.writeCache(t, sh)
		if st, err := os.Stat(h.cache); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: cache %v (%v), want mode 0600", sh, st, err)
		}
		if _, out := h.facts(t, sh); out != wantOut {
			t.Errorf("%s: facts with the cache:\n%s\nwant:\n%s", sh, out, wantOut)
		}

		// Read, not only written: a cache with the files' signatures and
		// another marker's content is believed.
		b, _ := os.ReadFile(h.cache)
		forged := strings.Replace(string(b), strings.Repeat("a", 64), strings.Repeat("c", 64), 1)
		put := func(content string) {
			os.WriteFile(h.cache, []byte(content), 0o600)
			os.Chmod(h.cache, 0o600)
		}
		put(forged)
		if f, _ := h.facts(t, sh); f.Applied[h.files[0]] != strings.Repeat("c", 64) {
			t.Errorf("%s: the facts script did not read the cache: applied %v", sh, f.Applied)
		}
		// ... but not when others may write it.
		os.Chmod(h.cache, 0o620)
		if f, _ := h.facts(t, sh); !reflect.DeepEqual(f, want) {
			t.Errorf("%s: a cache of mode 0620 was used: %+v", sh, f)
		}
		// ... nor one cut short (a syntax error in the middle of a quote, or
		// whole lines missing).
		for _, cut := range []int{len(forged) / 2, strings.Index(forged, "\ns='") + 1} {
			put(forged[:cut])
			if _, out := h.facts(t, sh); out != wantOut {
				t.Errorf("%s: facts with a cache cut short after %q:\n%s\nwant:\n%s", sh, forged[:cut], out, wantOut)
			}
		}
		// ... nor once the marker was written by something that knows no
		// cache (an older dcctl): its signature changed.
		put(forged)
		os.WriteFile(h.marker+".new", []byte(strings.Repeat("d", 64)+" "+h.files[0]+"\n"), 0o640)
		os.Rename(h.marker+".new", h.marker)
		if f, _ := h.facts(t, sh); len(f.Applied) != 1 || f.Applied[h.files[0]] != strings.Repeat("d", 64) {
			t.Errorf("%s: facts after the marker changed: applied %v", sh, f.Applied)
		}
		// Without the marker, the cache's script removes the cache.
		os.Remove(h.marker)
		h.writeCache(t, sh)
		if _, err := os.Stat(h.cache); !os.IsNotExist(err) {
			t.Errorf("%s: a cache left while the marker is missing: %v", sh, err)
		}
	}
}
