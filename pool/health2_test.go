package pool

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbeHTTP2: the HTTP/2 check speaks prior knowledge in cleartext
// and ALPN h2 over TLS, and passes or fails on the status.
func TestProbeHTTP2(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h2c := httptest.NewUnstartedServer(h)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	insecure := func(string) *tls.Config {
		return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}} //nolint:gosec // a test server's certificate
	}
	for _, tc := range []struct {
		name string
		addr string
		tls  func(string) *tls.Config
		path string
		ok   bool
	}{
		{"h2c up", strings.TrimPrefix(h2c.URL, "http://"), nil, "/up", true},
		{"h2c down", strings.TrimPrefix(h2c.URL, "http://"), nil, "/down", false},
		{"h2 up", strings.TrimPrefix(tlsSrv.URL, "https://"), insecure, "/up", true},
		{"h2 down", strings.TrimPrefix(tlsSrv.URL, "https://"), insecure, "/down", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := HealthCheck{Path: tc.path, Timeout: 5 * time.Second, ExpectStatus: [2]int{200, 399}, HTTP2: true, TLS: tc.tls}
			err := probe(context.Background(), tc.addr, nil, hc)
			if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "503") {
				t.Fatalf("probe: %v, want ok %v (or the 503 of an HTTP/2 answer)", err, tc.ok)
			}
		})
	}
}
