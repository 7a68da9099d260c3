// Package testwait is how tests wait: poll a condition with a deadline,
// never sleep for a guessed time. It imports nothing but the standard
// library, so every test package can use it, the end-to-end tests and those
// testcluster itself depends on included.
package testwait

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually asks again: often enough that a test
// waits little past the moment its condition holds, rarely enough not to
// load the servers it asks.
const pollEvery = 100 * time.Millisecond

// Converge bounds a test's wait for servers to converge: an election, a
// route or leaf link coming up, a replica catching up, a stopped server
// seen offline. On a quiet machine that takes seconds; on the 2-core CI
// machine at load 20-30 (other test runs beside) an election took over a
// minute. A deadline, not a wait: a test that passes goes on as soon as the
// servers have converged, and one that cannot converge still fails.
const Converge = 3 * time.Minute

// Eventually polls check until it returns nil and fails the test with the
// last error once timeout has passed. A deadline, not a sleep: the test goes
// on as soon as check passes. It does not watch the test's context, which
// ends before cleanups run: a cleanup may wait with it too.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(pollEvery) // the poll interval, not synchronisation
	}
}
