package tlsloop

import (
	"crypto/tls"
	"testing"
	"time"
)

// TestTicketRotation: a new key every rotation, old ones kept for the
// lifetime, nothing when tickets are off.
func TestTicketRotation(t *testing.T) {
	var k ticketKeys
	t0 := time.Unix(1_000_000_000, 0)
	k.configure(&tls.Config{}, time.Hour, 3*time.Hour, t0)
	for _, c := range []struct {
		at   time.Duration
		keys int
	}{
		{at: 30 * time.Minute, keys: 1},
		{at: time.Hour, keys: 2},
		{at: 2 * time.Hour, keys: 3},
		{at: 3 * time.Hour, keys: 3}, // the first key is 3h old: dropped
		{at: 10 * time.Hour, keys: 1},
	} {
		k.rotate(t0.Add(c.at))
		if got := k.count(); got != c.keys {
			t.Errorf("at +%v: %d keys, want %d", c.at, got, c.keys)
		}
	}
	first := k.keys[0].key
	k.configure(&tls.Config{}, time.Hour, 3*time.Hour, t0.Add(10*time.Hour+time.Minute))
	if k.keys[0].key != first {
		t.Error("a reload replaced the keys")
	}
	k.configure(&tls.Config{SessionTicketsDisabled: true}, time.Hour, 3*time.Hour, t0)
	k.rotate(t0.Add(100 * time.Hour))
	if k.count() != 1 {
		t.Error("rotated with tickets off")
	}
}
