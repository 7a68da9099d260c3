// Command sim is a simulation bench of dcctl's provisioning at a scale no
// lab here reaches: `go run ./bench/sim -hosts 1000`.
//
// It runs the real provision code (package provision: facts, plan, apply,
// and package lock, as `dcctl provision` drives them) over real SSH against
// N simulated hosts in one other process, on 127.0.0.1, one port each. A
// simulated host is an SSH server whose commands run in /bin/sh chrooted
// into a tree of its own: the machine's /usr read-only (real coreutils,
// awk, flock, sha256sum), its own /etc, /var, /run and /usr/local, so that
// uploads, renames, users and marker files are real files. What cannot
// exist here is faked at the boundary, and named so: systemctl, journalctl
// and useradd are stand-in scripts (stubs/), nats-server is a stub that
// answers --version and checks configs with nats-server's parser
// (stubnats/), and the monitoring endpoints provision waits on (/healthz,
// /jsz, /leafz) are answered by the simulated host itself (monitoring.go).
//
// It provisions the hosts from nothing, then again (which must change
// nothing), and prints one JSON line:
//
//	{"hosts":N,"fresh_s":..,"noop_s":..,"peak_rss_mb":..}
//
// peak_rss_mb is the driver process's (dcctl's code) peak resident set; the
// hosts' memory and CPU are not in it. A per-stage breakdown goes to
// stderr. Needs root (a mount namespace, chroot) and the go tool (it builds
// the stub). docs/performance.md says what the figures mean.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(sftpEnv) == "1" {
		os.Exit(serveSFTP())
	}
	if v := os.Getenv(hostsEnv); v != "" {
		os.Exit(hostsMain(v))
	}
	o := simOptions{Report: os.Stderr}
	flag.IntVar(&o.Hosts, "hosts", 10, "how many hosts to simulate (2 to 5000)")
	flag.StringVar(&o.Transfer, "transfer", "sftp", "the inventory's transfer: sftp or exec")
	flag.StringVar(&o.ClientKey, "client-key", "ed25519", "the type of dcctl's SSH key: ed25519 or rsa (3072 bits)")
	flag.IntVar(&o.Concurrency, "concurrency", 16, "dcctl provision --concurrency")
	flag.DurationVar(&o.GateTimeout, "gate-timeout", 3*time.Minute, "dcctl provision --gate-timeout")
	flag.IntVar(&o.Rounds, "rounds", 1, "run the no-op and its floor this many times, alternated, after the fresh run; noop_s is their median")
	flag.BoolVar(&o.Keep, "keep", false, "keep the work directory (trees, inventory, per-run logs)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write CPU profiles of the runs to `PREFIX`.fresh and PREFIX.noop, and of the simulated hosts' SSH servers over them to PREFIX.hosts.fresh and PREFIX.hosts.noop")
	flag.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile of both runs to `FILE`, and the allocations up to the end of each run to FILE.fresh, FILE.noop (go tool pprof -base FILE.fresh FILE.noop: the no-op's own)")
	flag.StringVar(&o.HeapPeak, "heappeak", "", "write the heap profile in use and the goroutines (`FILE`.goroutines) at the highest memory of the runs, and its breakdown to stderr")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := simulate(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
}

// hostsMain is the hosts process; v is "N:DIR".
func hostsMain(v string) int {
	n, dir, _ := strings.Cut(v, ":")
	hosts, err := strconv.Atoi(n)
	if err == nil {
		err = runHosts(dir, hosts, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sim hosts:", err)
		return 1
	}
	return 0
}
