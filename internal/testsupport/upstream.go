package testsupport

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// Upstream is a net/http server on 127.0.0.1 with a kernel-chosen port,
// closed when the test ends. It counts what it sees.
type Upstream struct {
	Addr   string       // host:port
	Conns  atomic.Int64 // connections accepted
	Closed atomic.Int64 // connections closed or hijacked
	Reqs   atomic.Int64 // requests handled
}

// NewUpstream starts an Upstream that answers with h.
func NewUpstream(t testing.TB, h http.Handler) *Upstream {
	t.Helper()
	return serve(t, h, nil)
}

// NewTLSUpstream starts an Upstream that answers with h over TLS with cfg.
// Its handshake errors are not logged (tests make them on purpose).
func NewTLSUpstream(t testing.TB, h http.Handler, cfg *tls.Config) *Upstream {
	t.Helper()
	return serve(t, h, cfg)
}

func serve(t testing.TB, h http.Handler, cfg *tls.Config) *Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &Upstream{Addr: ln.Addr().String()}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.Reqs.Add(1)
			h.ServeHTTP(w, r)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				u.Conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				u.Closed.Add(1)
			}
		},
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return u
}
