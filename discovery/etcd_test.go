package discovery

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hotpath/hotpath/internal/fleettest"
)

func etcdClient(t *testing.T, addr string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Logger: fleettest.QuietZap()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestEtcdWatchesThePrefix(t *testing.T) {
	e := fleettest.Etcd(t)
	c := etcdClient(t, e.Addr)
	ctx := context.Background()
	if _, err := c.Put(ctx, "/services/api/a", `{"address": "127.0.0.1:8001", "weight": 2, "metadata": {"zone": "a"}}`); err != nil {
		t.Fatal(err)
	}
	src := &Etcd{Client: c, Prefix: "/services/api/"}
	var r reports
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); src.Run(rctx, r.report) }()
	defer func() { cancel(); <-done }()
	r.waitFor(t, "the first set", func(sets [][]Endpoint, _ []error) bool {
		return Equal(last(sets), []Endpoint{{Address: "127.0.0.1:8001", Weight: 2}})
	})
	if md := last(r.sets)[0].Metadata; md["zone"] != "a" {
		t.Errorf("metadata %v", md)
	}
	// A service registers with a lease; when the lease is revoked (the
	// service died) its key goes.
	lease, err := c.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/services/api/b", `{"address": "127.0.0.1:8002"}`, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "b added", func(sets [][]Endpoint, _ []error) bool {
		return Equal(last(sets), []Endpoint{{Address: "127.0.0.1:8001", Weight: 2}, {Address: "127.0.0.1:8002", Weight: 1}})
	})
	if _, err := c.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "b gone with its lease", func(sets [][]Endpoint, _ []error) bool {
		return Equal(last(sets), []Endpoint{{Address: "127.0.0.1:8001", Weight: 2}})
	})
	if _, err := c.Put(ctx, "/services/api/bad", `{"address": "no port"}`); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the bad key reported", func(_ [][]Endpoint, errs []error) bool { return len(errs) > 0 })
	if !Equal(last(r.sets), []Endpoint{{Address: "127.0.0.1:8001", Weight: 2}}) {
		t.Errorf("the bad key changed the set: %v", last(r.sets))
	}
	// Keys outside the prefix are not endpoints.
	if _, err := c.Put(ctx, "/services/other/x", `{"address": "127.0.0.1:9"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "/services/api/a"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "a deleted", func(sets [][]Endpoint, _ []error) bool { return len(last(sets)) == 0 })
}
