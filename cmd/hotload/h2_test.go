package main

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestH2 runs hotload --h2 against Go's h2c server: HTTP/2 requests,
// counted by the server's protocol.
func TestH2(t *testing.T) {
	var h2req, other atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2req.Add(1)
		} else {
			other.Add(1)
		}
		w.Write([]byte("hello"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true) // prior knowledge
	srv := &http.Server{Handler: h, Protocols: &p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	code, out, errOut := hotload("--h2", "-c", "2", "-p", "8", "-d", "200ms", "--fail-if", "errors>0", "http://"+ln.Addr().String()+"/")
	if code != 0 || !strings.Contains(out, "HTTP/2") || !strings.Contains(out, "Status: 200:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if h2req.Load() == 0 || other.Load() != 0 {
		t.Fatalf("server saw %d HTTP/2 and %d other requests", h2req.Load(), other.Load())
	}
}
