package testsupport

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hotpath/hotpath/echoserver"
)

// StartEcho serves hotecho's server with cfg on 127.0.0.1 (a kernel-chosen
// port) until the test ends, and returns its base URL ("http://addr/")
// and the server.
func StartEcho(t testing.TB, cfg echoserver.Config) (string, *echoserver.Server) {
	t.Helper()
	srv, err := echoserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String() + "/", srv
}
