package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHTTPS runs hotload against an HTTPS server: a new connection per
// request, the handshakes reported apart; a certificate that does not
// verify stops the run before it starts (exit 1).
func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	code, out, errOut := hotload("-c", "2", "-d", "300ms", "--no-keepalive", "--insecure", "--tls-version", "1.3", "--tls-resume", srv.URL+"/")
	if code != exitOK || !strings.Contains(out, "TLS: TLS 1.3") || !strings.Contains(out, "Handshake (connect + TLS") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = hotload("-c", "1", "-d", "100ms", srv.URL+"/")
	if code != exitRun || !strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("unverified: exit %d, %s", code, errOut)
	}
}
