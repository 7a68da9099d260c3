package provision

import (
	"debug/elf"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dcctl/dcctl/inventory"
)

// A nats-server built for another architecture uploads, verifies and
// installs without complaint and only fails at the next start: the binary's
// ELF header is checked against every host's `uname -m` before anything is
// uploaded, and the upload runs the file on the host before it replaces the
// installed one (remote.File.Check) for what the header cannot tell (an
// ARMv7 build on an ARMv6 host, a noexec mount).

// cpuTarget is what an ELF header says a program needs to run.
type cpuTarget struct {
	Machine elf.Machine
	Class   elf.Class
	Data    elf.Data
}

// String names the target as Go's GOARCH does, which is how an operator
// builds nats-server for it.
func (t cpuTarget) String() string {
	for _, a := range goarches {
		if a.target == t {
			return a.name
		}
	}
	return fmt.Sprintf("%s %s %s", t.Machine, t.Class, t.Data)
}

var goarches = []struct {
	name   string
	target cpuTarget
}{
	{"amd64", cpuTarget{elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"arm64", cpuTarget{elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"arm", cpuTarget{elf.EM_ARM, elf.ELFCLASS32, elf.ELFDATA2LSB}},
	{"386", cpuTarget{elf.EM_386, elf.ELFCLASS32, elf.ELFDATA2LSB}},
	{"ppc64le", cpuTarget{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"ppc64", cpuTarget{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2MSB}},
	{"s390x", cpuTarget{elf.EM_S390, elf.ELFCLASS64, elf.ELFDATA2MSB}},
	{"riscv64", cpuTarget{elf.EM_RISCV, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"loong64", cpuTarget{elf.EM_LOONGARCH, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"mips64le", cpuTarget{elf.EM_MIPS, elf.ELFCLASS64, elf.ELFDATA2LSB}},
	{"mips64", cpuTarget{elf.EM_MIPS, elf.ELFCLASS64, elf.ELFDATA2MSB}},
}

// unameTargets maps Linux's `uname -m` to the programs the host runs
// natively. A 64-bit kernel may also run 32-bit programs (i686 on x86_64),
// but only if the host has that support enabled: dcctl asks for the native
// build rather than guess.
var unameTargets = map[string]string{
	"x86_64": "amd64", "amd64": "amd64",
	"aarch64": "arm64", "arm64": "arm64",
	"armv5tel": "arm", "armv6l": "arm", "armv7l": "arm", "armv8l": "arm", "arm": "arm",
	"i386": "386", "i486": "386", "i586": "386", "i686": "386",
	"ppc64le": "ppc64le", "ppc64": "ppc64",
	"s390x":       "s390x",
	"riscv64":     "riscv64",
	"loongarch64": "loong64",
}

// binaryTarget reads the ELF header of the local nats-server binary.
func binaryTarget(path string) (cpuTarget, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return cpuTarget{}, fmt.Errorf("nats.binary %s is not a Linux executable (ELF): %v; build nats-server with GOOS=linux GOARCH=<the hosts' architecture>", path, err)
		}
		return cpuTarget{}, fmt.Errorf("nats.binary: %w", err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return cpuTarget{}, fmt.Errorf("nats.binary %s is built for %s, not Linux; build nats-server with GOOS=linux", path, strings.TrimPrefix(f.OSABI.String(), "ELFOSABI_"))
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return cpuTarget{}, fmt.Errorf("nats.binary %s is an ELF %s, not an executable", path, f.Type)
	}
	return cpuTarget{Machine: f.Machine, Class: f.Class, Data: f.Data}, nil
}

// runsOn says whether a program built for t runs on a host whose `uname -m`
// is arch. known is false for an architecture dcctl has no mapping for
// (uname -m says "mips64" for both byte orders, for one): then only the run
// on the host before the rename can tell.
func (t cpuTarget) runsOn(arch string) (ok, known bool) {
	name, found := unameTargets[arch]
	if !found {
		return false, false
	}
	return t.String() == name, true
}

// ArchMismatchError refuses a run whose nats.binary cannot run on some of
// its hosts. Nothing has been uploaded when it is returned.
type ArchMismatchError struct {
	Binary string
	Target cpuTarget
	Hosts  map[string]string // node -> host's uname -m
	Addrs  map[string]string // node -> host address
}

func (e *ArchMismatchError) Error() string {
	nodes := make([]string, 0, len(e.Hosts))
	for n := range e.Hosts {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var b strings.Builder
	fmt.Fprintf(&b, "nats.binary %s is built for %s (ELF machine %s), which does not run on ", e.Binary, e.Target, e.Target.Machine)
	if len(nodes) == 1 {
		b.WriteString("this host:")
	} else {
		fmt.Fprintf(&b, "these %d hosts:", len(nodes))
	}
	want := map[string]bool{}
	for _, n := range nodes {
		arch := e.Hosts[n]
		fmt.Fprintf(&b, "\n  %s (%s): %s", n, e.Addrs[n], arch)
		if g := unameTargets[arch]; g != "" {
			want[g] = true
			fmt.Fprintf(&b, " (GOARCH=%s)", g)
		}
	}
	b.WriteString("\nnothing was changed on any host; ")
	if len(want) == 1 {
		for g := range want {
			fmt.Fprintf(&b, "build nats-server with GOOS=linux GOARCH=%s and point nats.binary at it", g)
		}
	} else {
		b.WriteString("one nats.binary serves one architecture: give these hosts a build of their own")
	}
	return b.String()
}

// checkArch returns an *ArchMismatchError naming every node in facts whose
// host cannot run a program built for t, or nil. Unknown architectures pass:
// the upload's run on the host decides for them.
func checkArch(inv *inventory.Inventory, t cpuTarget, facts map[string]*Facts) error {
	e := &ArchMismatchError{Binary: inv.NATS.Binary, Target: t, Hosts: map[string]string{}, Addrs: map[string]string{}}
	for node, f := range facts {
		if f == nil {
			continue
		}
		if ok, known := t.runsOn(f.Arch); known && !ok {
			e.Hosts[node] = f.Arch
			if n := inv.Node(node); n != nil {
				e.Addrs[node] = n.Host
			}
		}
	}
	if len(e.Hosts) == 0 {
		return nil
	}
	return e
}
