package remoteconfig

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/fleettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenParsesTheURL(t *testing.T) {
	for _, tc := range []struct {
		name, url, status, source string
		bad                       bool
	}{
		{name: "one host", url: "etcd://127.0.0.1:2379/hotpath/config", status: "/hotpath/status/i", source: "etcd://127.0.0.1:2379/hotpath/config"},
		{name: "hosts", url: "etcd://a:1,b:2/fleet/edge/config", status: "/fleet/edge/status/i", source: "etcd://a:1,b:2/fleet/edge/config"},
		{name: "no key", url: "etcd://127.0.0.1:2379", bad: true},
		{name: "no host", url: "etcd:///k", bad: true},
		{name: "a file", url: "/etc/hotpath.yaml", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Open(tc.url, Options{Instance: "i"})
			if tc.bad {
				if err == nil {
					_ = e.Close()
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.StatusKey() != tc.status || e.Name() != tc.source {
				t.Errorf("status key %q, name %q", e.StatusKey(), e.Name())
			}
		})
	}
}

func TestLoad(t *testing.T) {
	s := fleettest.Etcd(t)
	e, err := Open("etcd://"+s.Addr+"/hotpath/config", Options{Instance: "i"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, _, err := e.Load(context.Background()); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("missing key: %v, want ErrNoConfig", err)
	}
	put, err := e.Client().Put(context.Background(), "/hotpath/config", "routes:\n  - {path: x, direct: {}}\n")
	if err != nil {
		t.Fatal(err)
	}
	_, rev, err := e.Load(context.Background())
	var errs config.Errors
	if !errors.As(err, &errs) || rev != put.Header.Revision || !strings.HasPrefix(errs[0].Error(), e.Name()+":2: routes[0].path") {
		t.Fatalf("bad document: rev %d, err %v", rev, err)
	}
}
