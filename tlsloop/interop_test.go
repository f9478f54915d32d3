package tlsloop_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// Interop with real clients. CI installs curl, openssl and wrk (.ci/run);
// without one the test says so and skips, or fails under HOTPATH_CI=1 (as
// .ci/run sets it) so that CI never passes by skipping.

func need(t *testing.T, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("HOTPATH_CI") == "1" {
			t.Fatalf("%s not on PATH and HOTPATH_CI=1: .ci/run must install the %s package", bin, bin)
		}
		t.Skipf("%s not installed (apt-get install %s): interop not checked", bin, bin)
	}
	return path
}

// interopServer serves an RSA and an ECDSA certificate for s.example.test,
// offering h2 and http/1.1 (h2 only to see it negotiated: the loop server
// answers HTTP/1.1 whatever).
func interopServer(t *testing.T, alpn []string) (*pki, *tlsloop.Server, *loopServer) {
	p := newPKI(t, 0)
	ec, ecKey := p.issue(leaf{name: "ec", cn: "ecdsa", dns: []string{"s.example.test"}})
	rsa, rsaKey := p.issue(leaf{name: "rsa", cn: "rsa", dns: []string{"s.example.test"}, rsa: true})
	srv, s := serverWith(t, tlsloop.ServerOptions{ALPN: alpn, Certificates: []tlsloop.CertFile{
		{CertFile: ec, KeyFile: ecKey}, {CertFile: rsa, KeyFile: rsaKey},
	}})
	return p, srv, s
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestCurl(t *testing.T) {
	curl := need(t, "curl")
	p, _, s := interopServer(t, nil)
	_, port, _ := net.SplitHostPort(s.addr)
	for _, c := range []struct {
		name string
		args []string
	}{
		{name: "tls13"},
		{name: "tls12", args: []string{"--tls-max", "1.2"}},
		{name: "http2-offered", args: []string{"--http2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-sS", "--cacert", p.caFile, "--resolve", "s.example.test:" + port + ":127.0.0.1",
				"-w", "\n%{http_code} %{http_version}", "https://s.example.test:" + port + "/"}, c.args...)
			out := run(t, "", curl, args...)
			if !strings.HasSuffix(out, "Hello, world!\n200 1.1") {
				t.Errorf("curl said %q", out)
			}
		})
	}
}

func TestOpenSSLClient(t *testing.T) {
	openssl := need(t, "openssl")
	p, srv, s := interopServer(t, []string{"h2", "http/1.1"})
	req := "GET / HTTP/1.1\r\nHost: s.example.test\r\nConnection: close\r\n\r\n"
	sess := p.dir + "/session"
	base := []string{"s_client", "-connect", s.addr, "-servername", "s.example.test", "-CAfile", p.caFile, "-ign_eof"}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "tls13-alpn", args: []string{"-alpn", "h2,http/1.1", "-sess_out", sess},
			want: []string{"New, TLSv1.3", "ALPN protocol: h2", "Verify return code: 0 (ok)", "HTTP/1.1 200 OK"}},
		{name: "tls13-resumed", args: []string{"-sess_in", sess}, want: []string{"Reused, TLSv1.3", "HTTP/1.1 200 OK"}},
		{name: "tls12", args: []string{"-tls1_2", "-alpn", "http/1.1"},
			want: []string{"New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256", "ALPN protocol: http/1.1", "HTTP/1.1 200 OK"}},
		{name: "tls13-rsa-pss-only", args: []string{"-sigalgs", "rsa_pss_rsae_sha256"}, want: []string{"subject=O = hotpath tests, CN = rsa", "HTTP/1.1 200 OK"}},
		{name: "tls13-ecdsa-only", args: []string{"-sigalgs", "ecdsa_secp256r1_sha256"}, want: []string{"subject=O = hotpath tests, CN = ecdsa", "HTTP/1.1 200 OK"}},
		{name: "tls12-rsa-only", args: []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}, want: []string{"subject=O = hotpath tests, CN = rsa", "HTTP/1.1 200 OK"}},
		{name: "x25519", args: []string{"-groups", "X25519"}, want: []string{"Server Temp Key: X25519", "HTTP/1.1 200 OK"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := run(t, req, openssl, append(append([]string(nil), base...), c.args...)...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
		})
	}
	if st := srv.Stats(); st.Resumed != 1 {
		t.Errorf("stats %+v: want one resumed handshake", st)
	}
	t.Run("tls11-refused", func(t *testing.T) {
		cmd := exec.Command(openssl, append(append([]string(nil), base...), "-tls1_1")...)
		cmd.Stdin = strings.NewReader(req)
		if out, err := cmd.CombinedOutput(); err == nil && strings.Contains(string(out), "HTTP/1.1 200") {
			t.Errorf("TLS 1.1 served:\n%s", out)
		}
	})
}

// TestNetHTTPClient: Go's HTTP client keeps one connection alive across
// requests (one handshake).
func TestNetHTTPClient(t *testing.T) {
	p, srv, s := interopServer(t, nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool()}, ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.addr)
		}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for range 50 {
		resp, err := client.Get("https://s.example.test/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "Hello, world!" || resp.Proto != "HTTP/1.1" {
			t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
		}
	}
	if st := srv.Stats(); st.Handshakes != 1 {
		t.Errorf("stats %+v: want one handshake for 50 requests", st)
	}
}

// TestWrk: wrk over https with several connections gets its responses
// and no errors.
func TestWrk(t *testing.T) {
	wrk := need(t, "wrk")
	_, _, s := interopServer(t, nil)
	out := run(t, "", wrk, "-t1", "-c8", "-d1s", "https://"+s.addr+"/")
	m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("wrk said:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 || strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") {
		t.Errorf("wrk said:\n%s", out)
	}
	if got := s.requests.Load(); got == 0 {
		t.Error("the server counted no request")
	}
}
