package cache

import (
	"strconv"
	"testing"
	"time"
)

// TestStatsMove stores more than max_bytes holds and checks that stores,
// evictions (or admission rejections: ristretto may refuse a newcomer
// instead of evicting) and the current size move and stay consistent.
func TestStatsMove(t *testing.T) {
	c := newCache(t, Config{MaxBytes: 64 << 10, MaxEntryBytes: 8 << 10})
	p := &Policy{TTL: time.Hour}
	body := string(make([]byte, 4000))
	const n = 200
	for i := range n {
		req := get("/item/" + strconv.Itoa(i))
		res := c.Lookup(req, t0, nil)
		if _, err := c.Store(res.Ticket, req, response(200, body), p); err != nil && err != ErrRejected {
			t.Fatal(err)
		}
		c.Sync() // let ristretto apply each set, so admission sees them one by one
	}
	s := c.Stats()
	if s.Stores+s.Rejections < n || s.Stores == 0 {
		t.Errorf("stores %d + rejections %d, want %d stores attempted", s.Stores, s.Rejections, n)
	}
	if s.StoredBytes < s.Stores*4000 {
		t.Errorf("stored bytes %d for %d stores of 4000-byte bodies", s.StoredBytes, s.Stores)
	}
	if s.Evictions+s.Rejections == 0 {
		t.Errorf("no evictions or rejections after storing %d x 4 KB in a 64 KiB cache: %+v", n, s)
	}
	if s.Evictions > 0 && s.EvictedBytes < s.Evictions*4000 {
		t.Errorf("evicted bytes %d for %d evictions", s.EvictedBytes, s.Evictions)
	}
	if s.SizeBytes <= 0 || s.SizeBytes > 64<<10 {
		t.Errorf("size %d bytes, want in (0, 64 KiB]", s.SizeBytes)
	}
	// Size is what went in minus what came out.
	out := int64(s.StoredBytes) - s.SizeBytes
	if out < int64(s.EvictedBytes) {
		t.Errorf("size %d = stored %d - %d, less than the evicted %d", s.SizeBytes, s.StoredBytes, out, s.EvictedBytes)
	}
}

// TestStatsRejections: an entry ristretto's policy refuses (here one
// larger than the whole budget, which Store lets through because
// max_entry_bytes is set above max_bytes) counts as a rejection, holds no
// bytes, and is still handed back for the flight's waiters.
func TestStatsRejections(t *testing.T) {
	c := newCache(t, Config{MaxBytes: 16 << 10, MaxEntryBytes: 64 << 10})
	req := get("/big")
	res := c.Lookup(req, t0, nil)
	e, err := c.Store(res.Ticket, req, response(200, string(make([]byte, 20<<10))), &Policy{TTL: time.Hour})
	if e == nil || (err != nil && err != ErrRejected) {
		t.Fatalf("Store = %v, %v", e, err)
	}
	c.Sync()
	s := c.Stats()
	if s.Rejections != 1 || s.SizeBytes != 0 || s.Evictions != 0 {
		t.Errorf("after a refused store: %+v, want 1 rejection, size 0, no evictions", s)
	}
	if r := c.Lookup(req, t0, nil); r.State != Miss {
		t.Errorf("refused entry served: %v", r.State)
	}
}

// TestStatsExpirations waits for ristretto's time-to-live cleanup (it runs
// on 5-second buckets, so this takes up to ~15 s; it runs in parallel).
func TestStatsExpirations(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for ristretto's TTL cleanup")
	}
	t.Parallel()
	c := newCache(t, Config{})
	req := get("/short")
	res := c.Lookup(req, t0, nil)
	if _, err := c.Store(res.Ticket, req, response(200, "x"), &Policy{TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	c.Sync()
	if s := c.Stats(); s.SizeBytes == 0 {
		t.Fatalf("nothing stored: %+v", s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.Stats().Expirations == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no expiration after 30 s: %+v", c.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := c.Stats(); s.SizeBytes != 0 || s.Evictions != 0 {
		t.Errorf("after the only entry expired: %+v, want size 0 and no evictions", s)
	}
}
