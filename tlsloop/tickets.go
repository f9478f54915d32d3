package tlsloop

import (
	"crypto/rand"
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"
)

// Session ticket defaults.
const (
	DefaultTicketRotation = time.Hour
	DefaultTicketLifetime = 12 * time.Hour
)

// ticketKeys are a listener's session ticket keys (TLS 1.3 tickets and
// TLS 1.2 session tickets), shared by every event loop since every loop's
// connections use the listener's one tls.Config, and kept across reloads
// so that a reload does not end resumption. The newest key encrypts new
// tickets; the others only decrypt, until they are lifetime old.
//
// Rotation needs no goroutine: the first handshake after the rotation
// time rotates (off the loops, in its handshake goroutine).
type ticketKeys struct {
	next atomic.Int64 // unix ns of the next rotation; 0 = tickets off

	mu       sync.Mutex
	keys     []ticketKey // newest first
	cfg      *tls.Config // the listener's current config: it gets new keys
	rotation time.Duration
	lifetime time.Duration
}

type ticketKey struct {
	key     [32]byte
	created time.Time
}

// configure sets the schedule and installs the keys on cfg (a new
// listener config after a reload), making the first key when there is
// none.
func (k *ticketKeys) configure(cfg *tls.Config, rotation, lifetime time.Duration, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cfg = cfg
	if cfg.SessionTicketsDisabled {
		k.next.Store(0)
		return
	}
	k.rotation, k.lifetime = rotation, max(lifetime, rotation)
	if len(k.keys) == 0 {
		k.keys = []ticketKey{newTicketKey(now)}
	}
	k.installLocked()
	k.next.Store(k.keys[0].created.Add(k.rotation).UnixNano())
}

// rotate makes a new key when the rotation time has come and drops keys
// past their lifetime. It is called at the start of every handshake; the
// common case is one atomic load.
func (k *ticketKeys) rotate(now time.Time) {
	next := k.next.Load()
	if next == 0 || now.UnixNano() < next {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if next != k.next.Load() || k.cfg.SessionTicketsDisabled {
		return // another handshake rotated, or a reload turned tickets off
	}
	keys := []ticketKey{newTicketKey(now)}
	for _, old := range k.keys {
		if now.Sub(old.created) < k.lifetime {
			keys = append(keys, old)
		}
	}
	k.keys = keys
	k.installLocked()
	k.next.Store(now.Add(k.rotation).UnixNano())
}

func (k *ticketKeys) installLocked() {
	raw := make([][32]byte, len(k.keys))
	for i, t := range k.keys {
		raw[i] = t.key
	}
	k.cfg.SetSessionTicketKeys(raw)
}

// count returns how many keys decrypt tickets now (tests, metrics).
func (k *ticketKeys) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}

func newTicketKey(now time.Time) ticketKey {
	t := ticketKey{created: now}
	_, _ = rand.Read(t.key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return t
}
