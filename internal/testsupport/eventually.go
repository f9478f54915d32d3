package testsupport

import (
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 5 * time.Millisecond

// Eventually calls cond every PollInterval until it returns true, and fails
// t ("after <d>: <what>") when d passes first. Tests wait with it instead of
// sleeping: a condition that holds at once costs nothing, and a slow
// machine only makes the wait longer.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(PollInterval)
	}
}
