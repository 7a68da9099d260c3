package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// simOptions tune a simulation.
type simOptions struct {
	Hosts    int
	Transfer string // the inventory's transfer: "sftp" (dcctl's default) or "exec"
	// ClientKey is the type of dcctl's SSH key: "ed25519" (default) or "rsa".
	ClientKey string
	runOptions
	// Rounds is how many times the no-op and its floor run, alternated,
	// after the one fresh run (default 1); noop_s is their median.
	Rounds     int
	Keep       bool      // keep the work directory (trees, inventory, logs)
	CPUProfile string    // write each run's CPU profile to this path + ".fresh" and ".noop"
	MemProfile string    // write the allocations so far here after both runs, and to this path + ".fresh", ".noop" after each run
	HeapPeak   string    // write the heap profile and goroutines at the highest memory here (heappeak.go)
	Report     io.Writer // the per-stage breakdown, one line per run
	// betweenRuns, if not nil, runs after the fresh run with the work
	// directory (tests use it to change a host behind provision's back).
	betweenRuns func(dir string) error
}

// Result is the bench's one JSON line.
type Result struct {
	Hosts     int     `json:"hosts"`
	FreshS    float64 `json:"fresh_s"`
	NoopS     float64 `json:"noop_s"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// simulate brings up o.Hosts simulated hosts, provisions them from nothing,
// provisions them again (which must change nothing), and measures both.
func simulate(ctx context.Context, o simOptions) (*Result, error) {
	if o.Hosts < 2 || o.Hosts > maxHosts {
		return nil, fmt.Errorf("-hosts %d: want 2 (a cluster of one elects no meta leader) to %d", o.Hosts, maxHosts)
	}
	if o.Transfer != "" && o.Transfer != "sftp" && o.Transfer != "exec" {
		return nil, fmt.Errorf("-transfer %q: want sftp or exec", o.Transfer)
	}
	if o.Report == nil {
		o.Report = io.Discard
	}
	stopWatch := watchHeapPeak(o.HeapPeak)
	defer func() {
		if m := stopWatch(); m != "" {
			fmt.Fprintf(o.Report, "sim: at the highest memory (heap profile %s): %s\n", o.HeapPeak, m)
		}
	}()
	if err := raiseFileLimit(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dcctl-sim-")
	if err != nil {
		return nil, err
	}
	var hp *hostsProc
	before := childrenCPU()
	defer func() {
		if hp != nil {
			hp.stop()
			fmt.Fprintf(o.Report, "sim: simulated hosts used %.1fs of CPU (their shells, stand-ins, sshd side)\n", childrenCPU()-before)
		}
		if o.Keep {
			fmt.Fprintf(o.Report, "sim: work directory %s kept\n", dir)
		} else {
			removeWorkDir(dir, o.Report)
		}
	}()
	hostKey, err := writeKeys(dir, cmp.Or(o.ClientKey, "ed25519"))
	if err != nil {
		return nil, err
	}
	if err := buildStub(ctx, filepath.Join(dir, "bin", "nats-server")); err != nil {
		return nil, err
	}
	before = childrenCPU() // the hosts process's, not the stub's build
	if hp, err = startHosts(ctx, dir, o.Hosts); err != nil {
		return nil, err
	}
	if o.Transfer == "" {
		o.Transfer = "sftp"
	}
	invPath, err := writeInventory(dir, hp.ports, hostKey, o.Transfer)
	if err != nil {
		return nil, err
	}
	if err := hp.send(ctx, "inventory "+invPath, "ok"); err != nil {
		return nil, err
	}

	run := func(what string) (time.Duration, []string, error) {
		logf, err := os.Create(filepath.Join(dir, what+".log"))
		if err != nil {
			return 0, nil, err
		}
		defer logf.Close()
		ro := o.runOptions
		ro.Log = logf
		req0, err := hp.counts(ctx)
		if err != nil {
			return 0, nil, err
		}
		cpu0, hcpu0 := selfCPU(), hp.cpu()
		stopProfile, err := startCPUProfile(profilePath(o.CPUProfile, what))
		if err != nil {
			return 0, nil, err
		}
		if o.CPUProfile != "" {
			if err := hp.send(ctx, "cpuprofile "+profilePath(o.CPUProfile, "hosts."+what), "ok"); err != nil {
				return 0, nil, err
			}
		}
		plans, recap, st, err := provisionRun(ctx, invPath, ro)
		stopProfile()
		if o.MemProfile != "" {
			// Cumulative: `go tool pprof -base P.fresh P.noop` is the no-op's own.
			if err := writeHeapProfile(profilePath(o.MemProfile, what)); err != nil {
				return 0, nil, err
			}
		}
		if o.CPUProfile != "" {
			if err := hp.send(ctx, "cpuprofile stop", "ok"); err != nil {
				return 0, nil, err
			}
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%s run: %w (log: %s)", what, err, logf.Name())
		}
		cpu, hcpu := selfCPU()-cpu0, hp.cpu().sub(hcpu0)
		req, err := hp.counts(ctx)
		if err != nil {
			return 0, nil, err
		}
		fmt.Fprintf(o.Report, "sim: %d hosts, %s: %s; dcctl CPU %.2fs, peak RSS so far %.0f MB, simulated hosts' CPU %s; load average %s; %s\n", o.Hosts, what, st, cpu, peakRSSMB(), hcpu, loadAverage(), req.sub(req0).perHost(o.Hosts))
		if o.Transfer == "sftp" {
			// The hosts' sftp subsystem must be what carried the uploads.
			if b, err := os.ReadFile(logf.Name()); err == nil && strings.Contains(string(b), "exec instead") {
				return 0, nil, fmt.Errorf("%s run: uploads fell back to exec: the simulated hosts' sftp subsystem failed (log: %s)", what, logf.Name())
			}
		}
		return st.Total, changedHosts(plans, recap), nil
	}
	fresh, changed, err := run("fresh")
	if err != nil {
		return nil, err
	}
	if len(changed) != o.Hosts {
		return nil, fmt.Errorf("fresh run changed %d of %d hosts", len(changed), o.Hosts)
	}
	if o.betweenRuns != nil {
		if err := o.betweenRuns(dir); err != nil {
			return nil, err
		}
	}
	var noops []time.Duration
	for r := range max(o.Rounds, 1) {
		what := "noop"
		if r > 0 {
			what = fmt.Sprintf("noop%d", r+1)
		}
		noop, changed, err := run(what)
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 {
			return nil, fmt.Errorf("the second run was not a no-op: it changed %s", strings.Join(changed, ", "))
		}
		noops = append(noops, noop)
		req0, err := hp.counts(ctx)
		if err != nil {
			return nil, err
		}
		hcpu0 := hp.cpu()
		floor, floorCPU, err := floorRun(ctx, invPath, o.Concurrency)
		if err != nil {
			return nil, err
		}
		hcpu := hp.cpu().sub(hcpu0)
		req, err := hp.counts(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(o.Report, "sim: %d hosts, one-round-trip floor: %.2fs (dcctl CPU %.2fs, simulated hosts' CPU %s; load average %s; %s); no-op / floor = %.2f\n",
			o.Hosts, floor.Seconds(), floorCPU, hcpu, loadAverage(), req.sub(req0).perHost(o.Hosts), noop.Seconds()/floor.Seconds())
	}
	slices.Sort(noops)
	noop := noops[len(noops)/2]
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}
	return &Result{Hosts: o.Hosts, FreshS: round2(fresh.Seconds()), NoopS: round2(noop.Seconds()), PeakRSSMB: round2(peakRSSMB())}, nil
}

// hostsProc is the running hosts process.
type hostsProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	ports []int
}

// startHosts starts this program again as the hosts process, in a new
// mount namespace, and waits until every host listens.
func startHosts(ctx context.Context, dir string, n int) (*hostsProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), hostsEnv+"="+strconv.Itoa(n)+":"+dir)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the hosts process (root is needed for its mount namespace): %w", err)
	}
	hp := &hostsProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	err = hp.until(ctx, "ready", func(line string) error {
		p, ok := strings.CutPrefix(line, "port ")
		if !ok {
			return fmt.Errorf("hosts process: unexpected %q", line)
		}
		port, err := strconv.Atoi(p)
		hp.ports = append(hp.ports, port)
		return err
	})
	if err == nil && len(hp.ports) != n {
		err = fmt.Errorf("hosts process: %d hosts listen, want %d", len(hp.ports), n)
	}
	if err != nil {
		hp.stop()
		return nil, err
	}
	return hp, nil
}

// until reads the hosts process's lines, each to fn, until want.
func (hp *hostsProc) until(ctx context.Context, want string, fn func(string) error) error {
	done := make(chan error, 1)
	go func() {
		for hp.out.Scan() {
			if hp.out.Text() == want {
				done <- nil
				return
			}
			if err := fn(hp.out.Text()); err != nil {
				done <- err
				return
			}
		}
		done <- errors.New("hosts process ended before it was " + want + " (see its error above)")
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (hp *hostsProc) send(ctx context.Context, line, want string) error {
	if _, err := io.WriteString(hp.in, line+"\n"); err != nil {
		return fmt.Errorf("hosts process: %w", err)
	}
	return hp.until(ctx, want, func(l string) error { return fmt.Errorf("hosts process: unexpected %q", l) })
}

// requests are the SSH requests the hosts answered: logins (connections),
// commands (exec requests, each a session) and sftp subsystems.
type requests struct{ Logins, Execs, SFTP int }

func (r requests) sub(d requests) requests {
	return requests{r.Logins - d.Logins, r.Execs - d.Execs, r.SFTP - d.SFTP}
}

// perHost says what a run asked of each of n hosts.
func (r requests) perHost(n int) string {
	f := func(v int) string { return strconv.FormatFloat(float64(v)/float64(n), 'f', -1, 64) }
	return "per host " + f(r.Logins) + " logins, " + f(r.Execs) + " commands, " + f(r.SFTP) + " sftp sessions"
}

// counts asks the hosts process for the requests answered so far.
func (hp *hostsProc) counts(ctx context.Context) (requests, error) {
	if _, err := io.WriteString(hp.in, "counts\n"); err != nil {
		return requests{}, fmt.Errorf("hosts process: %w", err)
	}
	var r requests
	err := hp.until(ctx, "ok", func(l string) error {
		if _, err := fmt.Sscanf(l, "logins %d execs %d sftp %d", &r.Logins, &r.Execs, &r.SFTP); err != nil {
			return fmt.Errorf("hosts process: unexpected %q", l)
		}
		return nil
	})
	return r, err
}

// stop ends the hosts process (closing its stdin is the signal) and waits.
func (hp *hostsProc) stop() {
	hp.in.Close()
	t := time.AfterFunc(30*time.Second, func() { hp.cmd.Process.Kill() })
	hp.cmd.Wait()
	t.Stop()
}

// hostsCPU is CPU time of the hosts process, in seconds: its own (the SSH
// servers, the monitoring stand-in) and its finished commands' (shells,
// their programs, the sftp-servers).
type hostsCPU struct{ SSHD, Commands float64 }

func (c hostsCPU) Total() float64 { return c.SSHD + c.Commands }

func (c hostsCPU) sub(d hostsCPU) hostsCPU {
	return hostsCPU{c.SSHD - d.SSHD, c.Commands - d.Commands}
}

func (c hostsCPU) String() string {
	return fmt.Sprintf("%.1fs (sshd side %.1fs, commands %.1fs)", c.Total(), c.SSHD, c.Commands)
}

// cpu is the CPU time the hosts process and its finished commands used so
// far (utime + stime, cutime + cstime of /proc/PID/stat).
func (hp *hostsProc) cpu() hostsCPU {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", hp.cmd.Process.Pid))
	if err != nil {
		return hostsCPU{}
	}
	// Fields after the command name, which is in parentheses: utime is the
	// 12th of them.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	sum := func(idx ...int) float64 {
		ticks := 0.0
		for _, i := range idx {
			if i < len(f) {
				v, _ := strconv.ParseFloat(f[i], 64)
				ticks += v
			}
		}
		return ticks / clockTicks
	}
	return hostsCPU{SSHD: sum(11, 12), Commands: sum(13, 14)}
}

// clockTicks is USER_HZ, 100 on Linux everywhere Go runs.
const clockTicks = 100

// removeWorkDir removes the work directory. Its trees held bind mounts of
// /usr, but only in the hosts process's private namespace: here they are
// empty directories. If /usr were ever seen through one, nothing is removed.
func removeWorkDir(dir string, report io.Writer) {
	if _, err := os.Stat(filepath.Join(dir, "hosts", "h0000", "usr", "bin")); err == nil {
		fmt.Fprintf(report, "sim: %s still shows a bind mount of /usr: not removed\n", dir)
		return
	}
	os.RemoveAll(dir)
}

// buildStub builds the stand-in nats-server (package stubnats).
func buildStub(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "github.com/dcctl/dcctl/bench/sim/stubnats")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the stub nats-server: %w\n%s", err, b)
	}
	return nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one: each
// host costs the driver a connection and the hosts process a listener, a
// connection and a few pipes per running command.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// peakRSSMB is this process's peak resident set (getrusage's ru_maxrss, KiB).
func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func selfCPU() float64     { return cpuOf(syscall.RUSAGE_SELF) }
func childrenCPU() float64 { return cpuOf(syscall.RUSAGE_CHILDREN) }

func cpuOf(who int) float64 {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// profilePath is where a run's CPU profile goes: PREFIX.run, "" for none.
func profilePath(prefix, run string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "." + run
}

func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// The profile is as of the last collection: one now puts every
	// allocation so far in it, so that two of them subtract cleanly.
	runtime.GC()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes: the
// bench shares the machine, and its times follow the load.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
