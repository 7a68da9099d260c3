package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// turn is one command's share of the hosts' command slots, which model the
// CPUs a real host has to itself (slots in hostproc.go). It holds a slot
// while the command may run and gives it back while the command waits for
// its client's input (its shell blocked reading an empty stdin: no CPU
// used), as the deployment lock's take does while the run goes on; it takes
// a slot again before more input reaches the command. Without that, a
// thousand waiting shells would hold every slot and the run would stall.
type turn struct {
	slots   chan struct{}
	pid     int
	stdin   *os.File // the write end of the command's stdin
	mu      sync.Mutex
	holding bool
	eof     bool // the client ended the input: the command cannot wait for it
	done    chan struct{}
	wake    chan struct{} // the command wrote output: look soon
	looks   atomic.Int64  // how often it looked (tests)
}

func (t *turn) take() {
	t.slots <- struct{}{}
	t.holding = true
}

// end gives the slot back when the command has ended.
func (t *turn) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holding {
		<-t.slots
		t.holding = false
	}
	close(t.done)
}

// feed copies the client's input to the command, a slot held at each write.
func (t *turn) feed(ch io.Reader) {
	defer func() {
		t.mu.Lock()
		t.eof = true
		t.mu.Unlock()
		t.stdin.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := ch.Read(buf)
		if n > 0 {
			t.mu.Lock()
			if !t.holding {
				t.mu.Unlock()
				select {
				case t.slots <- struct{}{}:
				case <-t.done:
					return
				}
				t.mu.Lock()
				t.holding = true
				go t.watch()
			}
			_, werr := t.stdin.Write(buf[:n])
			t.mu.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// watch gives the slot back once the command waits for input: it looks
// after the command's output (a script says where it is before it waits)
// and otherwise on a tick that starts at 2 ms and doubles up to 16 ms, back
// to 2 ms after each output, while the command holds a slot and its input
// is open (most commands get their input and its end at once: one look).
// Each look reads /proc, and it looks at most once per 2 ms: a look at
// every write of a command that prints line by line (the facts, dozens of
// lines between its programs) cost the hosts' process more CPU than their
// SSH servers' own work on the command, which no real host pays.
func (t *turn) watch() {
	const first, most = 2 * time.Millisecond, 16 * time.Millisecond
	every := first
	tick := time.NewTimer(every)
	defer tick.Stop()
	var last time.Time // of the last look
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
			every = min(2*every, most)
		case <-t.wake:
			every = first
			if !tick.Stop() {
				select {
				case <-tick.C:
				default:
				}
			}
			if since := time.Since(last); since < first {
				tick.Reset(first - since) // the look after this output
				continue
			}
		}
		tick.Reset(every)
		last = time.Now()
		t.looks.Add(1)
		t.mu.Lock()
		if !t.holding || t.eof {
			t.mu.Unlock()
			return
		}
		if t.waitsForInput() {
			<-t.slots
			t.holding = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
}

// waitsForInput: the command's processes wait for its input: each is
// blocked in read(0, ...) or waiting for its children (a shell that runs
// the script as its child), and nothing is left unread in the stdin pipe
// (/proc/PID/syscall and the task's children; FIONREAD). A command doing
// anything else keeps its slot, as every command did before.
func (t *turn) waitsForInput() bool {
	if !blockedOnInput(t.pid, 0) {
		return false
	}
	rc, err := t.stdin.SyscallConn()
	if err != nil {
		return false
	}
	n, errno := int32(-1), syscall.Errno(0)
	rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return errno == 0 && n == 0
}

// blockedOnInput: process pid reads its fd 0, or waits for children that
// all do (depth bounds a runaway tree).
func blockedOnInput(pid, depth int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/syscall")
	if err != nil || depth > 8 {
		return false
	}
	f := strings.Fields(string(b))
	switch {
	case len(f) >= 2 && f[0] == strconv.Itoa(syscall.SYS_READ) && f[1] == "0x0":
		return true
	case len(f) >= 1 && f[0] == strconv.Itoa(syscall.SYS_WAIT4):
		c, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
		kids := strings.Fields(string(c))
		if err != nil || len(kids) == 0 {
			return false
		}
		for _, k := range kids {
			n, err := strconv.Atoi(k)
			if err != nil || !blockedOnInput(n, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// output is the command's stdout: each write wakes the watcher.
type output struct {
	io.Writer
	t *turn
}

func (o output) Write(p []byte) (int, error) {
	n, err := o.Writer.Write(p)
	select {
	case o.t.wake <- struct{}{}:
	default:
	}
	return n, err
}
