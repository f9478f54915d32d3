package loadgen

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tlsServer is an HTTPS server answering "ok" with TLS session tickets on;
// it returns its https:// URL and a file with its certificate (the CA).
func tlsServer(t *testing.T) (string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	}))
	srv.EnableHTTP2 = false
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut by the run's end
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL + "/", ca
}

func TestHTTPS(t *testing.T) {
	url, ca := tlsServer(t)
	for _, c := range []struct {
		name        string
		tls         *TLS
		noKeepAlive bool
		protocol    string
		resumed     bool
	}{
		{name: "keepalive", tls: &TLS{CAFile: ca}, protocol: "TLS 1.3"},
		{name: "tls12", tls: &TLS{CAFile: ca, Version: "1.2"}, protocol: "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{name: "insecure-x25519", tls: &TLS{Insecure: true, Curves: []string{"x25519"}}, protocol: "TLS 1.3 TLS_AES_128_GCM_SHA256 X25519 http/1.1"},
		{name: "full-handshakes", tls: &TLS{CAFile: ca}, noKeepAlive: true},
		{name: "resumed-handshakes", tls: &TLS{CAFile: ca, Resume: true}, noKeepAlive: true, resumed: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The warm-up leaves time for the first handshakes (slow under
			// the race detector): requests are recorded after it.
			res := mustRun(t, Config{Targets: target(t, "GET", url), Connections: 4, Warmup: time.Second, Duration: 500 * time.Millisecond,
				NoKeepAlive: c.noKeepAlive, TLS: c.tls})
			if res.Requests == 0 || res.ErrorCount() > 0 || res.Status[200] != res.Requests {
				t.Fatalf("requests %d, errors %v, status %v", res.Requests, res.Errors, res.Status)
			}
			tr := res.TLS
			if tr == nil || tr.Failed != 0 || !strings.HasPrefix(tr.Protocol, c.protocol) {
				t.Fatalf("tls %+v", tr)
			}
			// The histogram holds the handshakes of the recorded period:
			// with keep-alive they all happened in the warm-up.
			if recorded := tr.Handshake.TotalCount(); (recorded > 0) != c.noKeepAlive {
				t.Errorf("%d handshakes recorded", recorded)
			}
			switch {
			case !c.noKeepAlive && tr.Handshakes > 4:
				t.Errorf("%d handshakes for 4 kept-alive connections", tr.Handshakes)
			case c.noKeepAlive && tr.Handshakes < res.Requests:
				t.Errorf("%d handshakes for %d requests, each on its own connection", tr.Handshakes, res.Requests)
			}
			// With tickets every handshake resumes but the first ones, at
			// most one per connection; without, none does.
			if (c.resumed && tr.Resumed < tr.Handshakes-4) || (!c.resumed && tr.Resumed != 0) {
				t.Errorf("%d of %d handshakes resumed", tr.Resumed, tr.Handshakes)
			}
			var out bytes.Buffer
			if err := WriteSummary(&out, res); err != nil || !strings.Contains(out.String(), "handshakes (") ||
				strings.Contains(out.String(), "Handshake (connect + TLS") != c.noKeepAlive {
				t.Errorf("summary: %v\n%s", err, out.String())
			}
			var js bytes.Buffer
			if err := WriteJSON(&js, res); err != nil {
				t.Fatal(err)
			}
			back, err := ReadJSON(&js)
			if err != nil || back.TLS == nil || back.TLS.Handshakes != tr.Handshakes || back.TLS.Handshake.TotalCount() != tr.Handshake.TotalCount() {
				t.Errorf("JSON round trip: %v %+v", err, back.TLS)
			}
			merged, err := Merge(res, back)
			if err != nil || merged.TLS.Handshakes != 2*tr.Handshakes {
				t.Errorf("merged: %v %+v", err, merged.TLS)
			}
		})
	}
}

func TestHTTPSRefused(t *testing.T) {
	url, _ := tlsServer(t)
	for _, c := range []struct {
		name string
		tls  *TLS
		err  error
		msg  string
	}{
		{name: "unverified", tls: nil, err: ErrTLS, msg: "certificate signed by unknown authority"},
		{name: "wrong-name", tls: &TLS{Insecure: false, ServerName: "other.example"}, err: ErrTLS, msg: "certificate"},
		{name: "bad-version", tls: &TLS{Insecure: true, Version: "1.1"}, err: ErrBadConfig, msg: "want 1.2 or 1.3"},
		{name: "h2-only", tls: &TLS{Insecure: true, ALPN: []string{"h2"}}, err: ErrTLS, msg: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{Targets: target(t, "GET", url), Duration: 100 * time.Millisecond, TLS: c.tls})
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v, want %v ...%s", err, c.err, c.msg)
			}
		})
	}
	http, _ := NewTarget("GET", "http://127.0.0.1:1/", nil, "")
	if _, err := Run(context.Background(), Config{Targets: []Target{http}, TLS: &TLS{}}); !errors.Is(err, ErrBadConfig) {
		t.Errorf("TLS options with http://: %v", err)
	}
}

// Failures on TLS connections are counted by the errno under them, a
// timeout as ETIMEDOUT, a close_notify as EOF, and TLS's own as TLS.
func TestTLSFailedCauses(t *testing.T) {
	s := newStats()
	s.tlsFailed(ErrConnect, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", unix.ECONNREFUSED)})
	s.tlsFailed(ErrConnect, context.DeadlineExceeded)
	s.tlsFailed(ErrConnect, errors.New("tls: handshake failure"))
	s.tlsFailed(ErrRead, io.EOF)
	s.tlsFailed(ErrRead, errors.New("local error: tls: bad record MAC"))
	got := map[string]int64{}
	for e := range s.causes {
		for n, v := range s.causes[e] {
			if v > 0 {
				got[ErrorClass(e).String()+" "+causeName(ErrorClass(e), n)] += v
			}
		}
	}
	want := map[string]int64{"connect ECONNREFUSED": 1, "connect ETIMEDOUT": 1, "connect TLS": 1, "read EOF": 1, "read TLS": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) || s.errs[ErrConnect] != 3 || s.errs[ErrRead] != 2 {
		t.Fatalf("causes %v, errors %v", got, s.errs)
	}
}
