package provision

import (
	"debug/buildinfo"
	"fmt"
	"strconv"
	"strings"
)

// An upgrade compares the release it brings with the one each server runs
// before any host is touched. The new binary may be built for another
// architecture than the operator's machine, so its release is read from the
// Go build information in the file (debug/buildinfo), never by running it.

// natsModule is nats-server's Go module path.
const natsModule = "github.com/nats-io/nats-server/v2"

// BinaryVersion is what a nats-server binary's build information says.
type BinaryVersion struct {
	// NATS is the nats-server module's version ("v2.15.2"): the main
	// module's for `go install github.com/nats-io/nats-server/v2@v2.15.2`,
	// release builds and `go build github.com/nats-io/nats-server/v2` from
	// a module that requires it; a dependency's for a program that embeds
	// nats-server.
	NATS string `json:"nats"`
	// Main is the main module, path@version, as the build recorded it.
	Main string `json:"main"`
	// Go is the Go toolchain that built it.
	Go string `json:"go"`
}

// Release is NATS without its "v", as /varz reports a running server's.
func (v BinaryVersion) Release() string { return strings.TrimPrefix(v.NATS, "v") }

// ReadBinaryVersion reads the nats-server release of the binary at path.
func ReadBinaryVersion(path string) (BinaryVersion, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return BinaryVersion{}, fmt.Errorf("%s: no Go build information (%v): dcctl reads a nats-server's release from it; use a release build or `go install %s@vX.Y.Z`", path, err, natsModule)
	}
	v := BinaryVersion{Main: bi.Main.Path + "@" + bi.Main.Version, Go: bi.GoVersion}
	if bi.Main.Path == natsModule {
		v.NATS = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path != natsModule {
			continue
		}
		v.NATS = d.Version
		if d.Replace != nil && d.Replace.Version != "" {
			v.NATS = d.Replace.Version
		}
	}
	if v.NATS == "" || v.NATS == "(devel)" {
		what := "is not a nats-server build"
		if v.NATS == "(devel)" {
			what = "is a nats-server built from a source tree without a version"
		}
		return BinaryVersion{}, fmt.Errorf("%s %s (main module %s): dcctl cannot tell which release it would install; use a release build or `go install %s@vX.Y.Z`", path, what, v.Main, natsModule)
	}
	if _, err := parseRelease(v.NATS); err != nil {
		return BinaryVersion{}, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// release is a semantic version: major.minor.patch and a pre-release tag.
type release struct {
	major, minor, patch int
	pre                 string
}

// parseRelease reads "v2.15.2", "2.15.2" or "2.15.0-RC.1"; build metadata
// (after "+") is ignored, as semantic versioning says.
func parseRelease(s string) (release, error) {
	v := strings.TrimPrefix(strings.TrimSpace(s), "v")
	v, _, _ = strings.Cut(v, "+")
	core, pre, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return release{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return release{}, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
		}
		n[i] = x
	}
	return release{major: n[0], minor: n[1], patch: n[2], pre: pre}, nil
}

// compare orders two releases: -1, 0 or 1. A pre-release comes before its
// release; two pre-release tags compare as strings (enough for RC.1 < RC.2).
func (r release) compare(o release) int {
	for _, d := range []int{r.major - o.major, r.minor - o.minor, r.patch - o.patch} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	switch {
	case r.pre == o.pre:
		return 0
	case r.pre == "":
		return 1
	case o.pre == "":
		return -1
	case r.pre < o.pre:
		return -1
	}
	return 1
}

// acrossMinor says whether going from r to o changes the major or minor
// version.
func (r release) acrossMinor(o release) bool { return r.major != o.major || r.minor != o.minor }
