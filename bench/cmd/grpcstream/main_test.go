package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/hotpath/hotpath/echoserver"
)

// TestRun: the echo stream answers, the client measures (directly, no
// proxy) and writes its figures as JSON.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	s.RegisterService(&echoserver.StreamService, struct{}{})
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	out := filepath.Join(t.TempDir(), "run.json")
	if err := run("", ln.Addr().String(), 200*time.Millisecond, 10, 32, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Messages == 0 || r.PerSec <= 0 || r.P50US <= 0 || r.P99US < r.P50US || r.CPUNS <= 0 {
		t.Fatalf("figures %+v", r)
	}
}

// TestRunRefusesBadFlags: without an address there is nothing to measure.
func TestRunRefusesBadFlags(t *testing.T) {
	if err := run("", "", time.Second, 10, 32, ""); err == nil {
		t.Fatal("no error without -addr")
	}
}
