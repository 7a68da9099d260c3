package main

import (
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestTurnLooksAtMostEvery2ms: a command that prints line after line, then
// waits for input, is looked at no more than once per 2 ms while it prints
// (each look reads /proc: once per write cost the hosts' process more than
// their SSH servers' own work), and still gives its slot back once it
// waits.
func TestTurnLooksAtMostEvery2ms(t *testing.T) {
	slots := make(chan struct{}, 1)
	tu := &turn{slots: slots, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	tu.take()
	// 300 lines, each after a little of the shell's own work, so that they
	// reach the watcher as separate writes; then a read of its stdin.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300 ]; do j=0; while [ $j -lt 30 ]; do j=$((j+1)); done; echo "line $i"; i=$((i+1)); done; read x`)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd.Stdin = r
	cmd.Stdout = output{io.Discard, tu}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer func() { w.Close(); cmd.Wait(); tu.end() }()
	tu.pid, tu.stdin = cmd.Process.Pid, w
	go tu.watch()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tu.mu.Lock()
		holding := tu.holding
		tu.mu.Unlock()
		if !holding {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command kept its slot while it waited for input (%d looks)", tu.looks.Load())
		}
		time.Sleep(time.Millisecond) // poll interval
	}
	elapsed := time.Since(start)
	if looks, most := tu.looks.Load(), int64(elapsed/(2*time.Millisecond))+2; looks > most {
		t.Errorf("%d looks in %s: more than one per 2 ms (%d)", looks, elapsed, most)
	}
	t.Logf("%d looks in %s", tu.looks.Load(), elapsed)
}
