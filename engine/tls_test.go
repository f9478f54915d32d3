package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testpki"
	"github.com/hotpath/hotpath/internal/testsupport"
)

// tlsTestConfig is testConfig with listener fields (YAML indented for the
// listener's mapping) added to the one listener.
func tlsTestConfig(t testing.TB, listener, body string) *config.Config {
	t.Helper()
	y := `
workers: 2
listeners:
  - address: 127.0.0.1:0
` + listener + `
timeouts:
  client_header: 2s
  client_body: 2s
  client_idle: 5s
  connect: 1s
  upstream_header: 2s
  upstream_read: 2s
  drain: 2s
` + body
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, y)
	}
	return cfg
}

// serverCert issues the gateway's certificate for gw.test and 127.0.0.1.
func serverCert(p *testpki.PKI, name string) (string, string) {
	return p.Issue(testpki.Leaf{Name: name, CN: name, DNS: []string{"gw.test", name}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
}

// tlsListener is the YAML of a tls section serving cert and key.
func tlsListener(cert, key, extra string) string {
	return fmt.Sprintf(`    tls:
      certificates:
        - {cert_file: %s, key_file: %s}
%s`, cert, key, extra)
}

// httpsClient is Go's HTTPS client trusting roots; h2 offers only HTTP/2
// (ALPN h2), else only HTTP/1.1.
func httpsClient(t *testing.T, roots *x509.CertPool, h2 bool, certs ...tls.Certificate) *http.Client {
	var p http.Protocols
	if h2 {
		p.SetHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{
		Protocols:       &p,
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "gw.test", Certificates: certs},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// seenHandler answers with what the upstream received: the protocol the
// gateway says the client used, and the identity fields.
func seenHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
	w.Header().Set("X-Seen-Subject", strings.Join(r.Header.Values("X-Client-Subject"), "|"))
	w.Header().Set("X-Seen-SAN", strings.Join(r.Header.Values("X-Client-SAN"), "|"))
	w.Header().Set("X-Seen-Length", fmt.Sprint(len(body)))
	_, _ = w.Write(body)
}

// TestTLSThroughTheGateway: HTTPS clients (TLS 1.2 and 1.3, HTTP/1.1 and
// HTTP/2 by ALPN) reach a plain upstream, which is told the client used
// https; bodies larger than a TLS record go both ways.
func TestTLSThroughTheGateway(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, ""), proxyTo(up.addr)))
	url := "https://" + srv.Addr() + "/x"
	big := strings.Repeat("0123456789abcdef", 1<<15) // 512 KiB: many records

	for _, c := range []struct {
		name  string
		h2    bool
		maxV  uint16
		proto string
	}{
		{"http1.1-tls1.3", false, tls.VersionTLS13, "HTTP/1.1"},
		{"http1.1-tls1.2", false, tls.VersionTLS12, "HTTP/1.1"},
		{"h2-tls1.3", true, tls.VersionTLS13, "HTTP/2.0"},
		{"h2-tls1.2", true, tls.VersionTLS12, "HTTP/2.0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := httpsClient(t, p.Pool(), c.h2)
			cl.Transport.(*http.Transport).TLSClientConfig.MaxVersion = c.maxV
			for i := 0; i < 3; i++ { // the same connection, kept alive
				resp, err := cl.Post(url, "text/plain", strings.NewReader(big))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != big || resp.Proto != c.proto {
					t.Fatalf("status %d proto %s body %d bytes (want %d)", resp.StatusCode, resp.Proto, len(body), len(big))
				}
				if resp.TLS == nil || resp.TLS.Version != c.maxV {
					t.Fatalf("TLS %+v", resp.TLS)
				}
				if got := resp.Header.Get("X-Seen-Proto"); got != "https" {
					t.Errorf("upstream saw X-Forwarded-Proto %q, want https", got)
				}
			}
		})
	}
	// Plain HTTP to the HTTPS port is not served.
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: gw.test\r\n\r\n")
	b, _ := io.ReadAll(c)
	if strings.HasPrefix(string(b), "HTTP/1.1 200") {
		t.Errorf("plain HTTP served on the HTTPS listener: %q", b)
	}
}

// TestTLSListenerALPN: alpn [http/1.1] keeps HTTP/2 off; the default offers
// both, h2 first.
func TestTLSListenerALPN(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, seenHandler)
	for _, c := range []struct {
		extra string
		want  string
	}{
		{"", "h2"},
		{"      alpn: [http/1.1]\n", "http/1.1"},
	} {
		srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, c.extra), proxyTo(up.addr)))
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: p.Pool(), ServerName: "gw.test", NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().NegotiatedProtocol; got != c.want {
			t.Errorf("alpn %q: negotiated %q, want %q", c.extra, got, c.want)
		}
		conn.Close()
	}
}

// TestTLSSNI: the certificate is chosen by SNI: exact names, a wildcard,
// and the default for unknown names and for clients that send none.
func TestTLSSNI(t *testing.T) {
	p := testpki.New(t, 0)
	aCert, aKey := p.Issue(testpki.Leaf{Name: "a", CN: "a", DNS: []string{"a.test"}})
	wCert, wKey := p.Issue(testpki.Leaf{Name: "w", CN: "w", DNS: []string{"*.w.test"}})
	dCert, dKey := p.Issue(testpki.Leaf{Name: "d", CN: "d", DNS: []string{"d.test"}})
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, fmt.Sprintf(`    tls:
      certificates:
        - {cert_file: %s, key_file: %s}
        - {cert_file: %s, key_file: %s}
        - {cert_file: %s, key_file: %s, default: true}
`, aCert, aKey, wCert, wKey, dCert, dKey), proxyTo(up.addr)))
	for sni, want := range map[string]string{"a.test": "a", "x.w.test": "w", "unknown.test": "d", "": "d"} {
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q: certificate %q, want %q", sni, got, want)
		}
		conn.Close()
	}
}

// TestTLSReloadCertificates: a reload swaps the certificate for new
// connections while requests keep flowing (none fails); a reload naming
// a certificate that does not match its key is refused and the old one
// keeps serving.
func TestTLSReloadCertificates(t *testing.T) {
	p := testpki.New(t, 0)
	oldCert, oldKey := serverCert(p, "old")
	newCert, newKey := serverCert(p, "new")
	up := newHTTPUpstream(t, seenHandler)
	body := proxyTo(up.addr)
	srv := startServer(t, tlsTestConfig(t, tlsListener(oldCert, oldKey, ""), body))
	served := func() string {
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: p.Pool(), ServerName: "gw.test"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "old" {
		t.Fatalf("serving %q", got)
	}

	// Load: new connections and kept-alive ones, through the reload.
	var failed, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(fresh bool) {
			defer wg.Done()
			cl := httpsClient(t, p.Pool(), false)
			cl.Transport.(*http.Transport).DisableKeepAlives = fresh
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := cl.Get("https://" + srv.Addr() + "/load")
				if err != nil {
					failed.Add(1)
					t.Log(err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				done.Add(1)
			}
		}(i%2 == 0)
	}
	eventually(t, 10*time.Second, func() bool { return done.Load() > 20 }, "requests before the reload")
	if err := srv.Reload(tlsTestConfig(t, tlsListener(newCert, newKey, ""), body)); err != nil {
		t.Fatal(err)
	}
	before := done.Load()
	eventually(t, 10*time.Second, func() bool { return done.Load() > before+20 }, "requests after the reload")
	close(stop)
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Errorf("%d of %d requests failed across the reload", f, done.Load())
	}
	if got := served(); got != "new" {
		t.Errorf("after reload serving %q, want new", got)
	}

	// A key that does not match: refused with the file and the reason.
	wrong := testpki.New(t, 1).OtherKey("wrong.key")
	err := srv.Reload(tlsTestConfig(t, tlsListener(oldCert, wrong, ""), body))
	var errs config.Errors
	if !errors.As(err, &errs) || errs[0].Path != "listeners[0].tls.certificates[0].key_file" || !strings.Contains(errs[0].Msg, "does not match") {
		t.Fatalf("reload with a mismatched key: %v", err)
	}
	if got := served(); got != "new" {
		t.Errorf("after a refused reload serving %q, want new", got)
	}
}

// TestTLSClientCertRoute: a route's client_cert: without a verified client
// certificate a required route answers 403 (and the upstream sees
// nothing); with one, the subject and SANs reach the upstream in the
// configured fields, and a client's own copies of those fields never do.
func TestTLSClientCertRoute(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	clients := testpki.New(t, 1) // the CA of client certificates
	aliceCert, aliceKey := clients.Issue(testpki.Leaf{Name: "alice", CN: "alice", URIs: []string{"spiffe://example/alice"}, Client: true})
	alice, err := tls.LoadX509KeyPair(aliceCert, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	stranger := testpki.New(t, 2)
	eveCert, eveKey := stranger.Issue(testpki.Leaf{Name: "eve", CN: "eve", Client: true})
	eve, err := tls.LoadX509KeyPair(eveCert, eveKey)
	if err != nil {
		t.Fatal(err)
	}
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, fmt.Sprintf("      client_auth: optional\n      client_ca_file: %s\n", clients.CAFile)),
		fmt.Sprintf(`upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /secure
    upstream: app
    client_cert: {required: true, subject_header: X-Client-Subject, san_header: X-Client-SAN}
  - path: /ident
    upstream: app
    client_cert: {subject_header: X-Client-Subject}
  - path: /open
    upstream: app
metrics: {enabled: true}
`, up.addr)))

	get := func(cl *http.Client, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+srv.Addr()+path, nil)
		req.Header.Set("X-Client-Subject", "CN=forged")
		req.Header.Set("X-Client-SAN", "DNS:forged")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	anon := httpsClient(t, p.Pool(), false)
	withAlice := httpsClient(t, p.Pool(), false, alice)

	reqs := up.reqs.Load()
	if r := get(anon, "/secure"); r.StatusCode != 403 {
		t.Errorf("/secure without a certificate: %d, want 403", r.StatusCode)
	}
	if up.reqs.Load() != reqs {
		t.Error("a refused request reached the upstream")
	}
	r := get(withAlice, "/secure")
	if r.StatusCode != 200 || r.Header.Get("X-Seen-Subject") != "CN=alice,O=hotpath tests" || r.Header.Get("X-Seen-SAN") != "URI:spiffe://example/alice" {
		t.Errorf("/secure with alice: %d subject %q SAN %q", r.StatusCode, r.Header.Get("X-Seen-Subject"), r.Header.Get("X-Seen-SAN"))
	}
	if r := get(anon, "/ident"); r.StatusCode != 200 || r.Header.Get("X-Seen-Subject") != "" {
		t.Errorf("/ident without a certificate: %d subject %q (the forged one must not pass)", r.StatusCode, r.Header.Get("X-Seen-Subject"))
	}
	if r := get(withAlice, "/ident"); r.StatusCode != 200 || r.Header.Get("X-Seen-Subject") != "CN=alice,O=hotpath tests" {
		t.Errorf("/ident with alice: %d subject %q", r.StatusCode, r.Header.Get("X-Seen-Subject"))
	}
	if r := get(withAlice, "/open"); r.StatusCode != 200 {
		t.Errorf("/open: %d", r.StatusCode)
	}
	// A certificate from a CA the listener does not trust fails the
	// handshake (sent even though the server's list of CAs excludes it).
	withEve := httpsClient(t, p.Pool(), false)
	withEve.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &eve, nil
	}
	if resp, err := withEve.Get("https://" + srv.Addr() + "/open"); err == nil {
		resp.Body.Close()
		t.Error("a client certificate from an unknown CA was accepted")
	}
	if got := testutil.ToFloat64(collectorMetric(t, srv, "hotpath_auth_rejections_total", "route", "/secure", "reason", "client_cert")); got != 1 {
		t.Errorf("auth_rejections_total{reason=client_cert} = %v, want 1", got)
	}
}

// collectorMetric returns the one sample of the server's metric with the
// given label pairs, as a prometheus.Collector for testutil.
func collectorMetric(t *testing.T, srv *Server, name string, labels ...string) prometheus.Collector {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(srv.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sample"}, func() float64 { return v })
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return nil
}

// TestHTTPSRedirect: a plain listener's https_redirect answers every
// request with the same host and target over HTTPS (the configured port),
// except the paths it lists, which are proxied as usual.
func TestHTTPSRedirect(t *testing.T) {
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, `    https_redirect:
      port: 8443
      except: [/.well-known/acme-challenge/]
`, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /a/b?q=1 HTTP/1.1\r\nHost: example.test:8080\r\n\r\n", "GET")
	readBody(t, resp)
	if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://example.test:8443/a/b?q=1" {
		t.Errorf("redirect %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = roundTrip(t, c, br, "POST /.well-known/acme-challenge/tok HTTP/1.1\r\nHost: example.test\r\nContent-Length: 2\r\n\r\nhi", "POST")
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "hi" {
		t.Errorf("exception: %d %q", resp.StatusCode, body)
	}
	resp = roundTrip(t, c, br, "GET / HTTP/1.0\r\n\r\n", "GET")
	readBody(t, resp)
	if resp.StatusCode != 400 {
		t.Errorf("no Host: %d, want 400", resp.StatusCode)
	}
	if up.reqs.Load() != 1 {
		t.Errorf("upstream got %d requests, want 1 (the exception)", up.reqs.Load())
	}

	// Port 443 is left out of the URL, and the status is configurable.
	srv = startServer(t, tlsTestConfig(t, "    https_redirect: {status: 301}\n", proxyTo(up.addr)))
	c = dial(t, srv)
	resp = roundTrip(t, c, bufio.NewReader(c), "GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "GET")
	readBody(t, resp)
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://[::1]/x" {
		t.Errorf("redirect %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// tlsUpstream is an HTTPS upstream (net/http) with a certificate from p
// for 127.0.0.1; it may require a client certificate from clientCA.
func tlsUpstream(t *testing.T, p *testpki.PKI, clientCA *x509.CertPool) *httpUpstream {
	t.Helper()
	certFile, keyFile := p.Issue(testpki.Leaf{Name: "upstream", CN: "upstream", DNS: []string{"upstream.test"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCA, tls.RequireAndVerifyClientCert
	}
	return fromUpstream(testsupport.NewTLSUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-TLS", fmt.Sprint(r.TLS != nil))
		seenHandler(w, r)
	}), cfg))
}

// TestUpstreamTLS: upstreams[].tls verifies the endpoint's certificate
// (CA file, name), presents the gateway's client certificate, keeps the
// connections alive; a certificate from another CA, or for another
// name, is a 502 and nothing is sent to that endpoint.
func TestUpstreamTLS(t *testing.T) {
	p := testpki.New(t, 0)
	gwPKI := testpki.New(t, 1) // the gateway's client certificate
	gwCert, gwKey := gwPKI.Issue(testpki.Leaf{Name: "gateway", CN: "gateway", Client: true})
	up := tlsUpstream(t, p, gwPKI.Pool())
	other := testpki.New(t, 2)
	for _, c := range []struct {
		name   string
		tls    string
		status int
	}{
		{"verified", fmt.Sprintf("{ca_file: %s, cert_file: %s, key_file: %s}", p.CAFile, gwCert, gwKey), 200},
		{"server-name", fmt.Sprintf("{ca_file: %s, server_name: upstream.test, cert_file: %s, key_file: %s}", p.CAFile, gwCert, gwKey), 200},
		{"wrong-ca", fmt.Sprintf("{ca_file: %s, cert_file: %s, key_file: %s}", other.CAFile, gwCert, gwKey), 502},
		{"wrong-name", fmt.Sprintf("{ca_file: %s, server_name: other.test, cert_file: %s, key_file: %s}", p.CAFile, gwCert, gwKey), 502},
		{"no-client-cert", fmt.Sprintf("{ca_file: %s}", p.CAFile), 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, fmt.Sprintf(`upstreams:
  - name: app
    endpoints: [{address: %s}]
    tls: %s
routes:
  - {path: /*path, upstream: app, retry: {attempts: 1}}
`, up.addr, c.tls))
			cfg.Timeouts.Connect = 10 * time.Second // it covers the handshake: a busy race run is slow
			srv := startServer(t, cfg)
			reqs, conns := up.reqs.Load(), up.conns.Load()
			cl := httpClient(t)
			for i := 0; i < 3; i++ {
				resp, err := cl.Get("http://" + srv.Addr() + "/x")
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
				}
				if c.status == 200 && resp.Header.Get("X-Upstream-TLS") != "true" {
					t.Fatal("the upstream request was not over TLS")
				}
			}
			if c.status != 200 {
				if up.reqs.Load() != reqs {
					t.Error("a request reached an endpoint that failed verification")
				}
				return
			}
			if n := up.conns.Load() - conns; n != 1 {
				t.Errorf("%d upstream connections for 3 requests, want 1 (kept alive)", n)
			}
		})
	}
}

// TestTLSHandshakeFlood: connections that send a partial ClientHello and
// stall hold at most max_handshakes handshakes; the rest are closed at
// once, counted as refused; a stalled handshake times out; an established
// connection keeps being served throughout.
func TestTLSHandshakeFlood(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, "      max_handshakes: 4\n      handshake_timeout: 2s\n"),
		proxyTo(up.addr)+"metrics: {enabled: true}\n"))
	cl := httpsClient(t, p.Pool(), false)
	get := func() {
		t.Helper()
		resp, err := cl.Get("https://" + srv.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	get() // established before the flood

	// A ClientHello's first bytes: a handshake record header and the start
	// of its body, never completed.
	partial := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
		if _, err := c.Write(partial); err != nil {
			t.Fatal(err)
		}
	}
	get() // served during the flood, on its kept-alive connection
	inProgress := func() float64 {
		return testutil.ToFloat64(collectorMetric(t, srv, "hotpath_tls_handshakes_in_progress", "side", "listener"))
	}
	eventually(t, 10*time.Second, func() bool { return inProgress() == 4 }, "max_handshakes (4) in progress during the flood")
	// Every flooding connection is closed: refused at once beyond the cap,
	// timed out within it.
	for _, c := range flood {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("a flooding connection was not closed: %v", err)
		}
	}
	metric := func(name string, labels ...string) float64 {
		return testutil.ToFloat64(collectorMetric(t, srv, name, labels...))
	}
	if r := metric("hotpath_tls_handshakes_total", "side", "listener", "result", "refused"); r < 16 {
		t.Errorf("refused handshakes %v, want at least 16 of 20 (max_handshakes 4)", r)
	}
	if to := metric("hotpath_tls_handshake_timeouts_total", "side", "listener"); to < 1 || to > 4 {
		t.Errorf("timed-out handshakes %v, want 1-4", to)
	}
	if f := metric("hotpath_tls_handshakes_total", "side", "listener", "result", "full"); f < 1 {
		t.Errorf("full handshakes %v", f)
	}
	if f, to := metric("hotpath_tls_handshakes_total", "side", "listener", "result", "failed"), metric("hotpath_tls_handshake_timeouts_total", "side", "listener"); f < to {
		t.Errorf("failed handshakes %v, fewer than the timed-out ones %v", f, to)
	}
	eventually(t, 10*time.Second, func() bool { return inProgress() == 0 }, "handshakes still in progress after the flood")
	get()
}

// TestTLSResumptionMetrics: a second connection with the session ticket
// of the first resumes, and the metrics count one full and one resumed
// handshake.
func TestTLSResumptionMetrics(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, ""), proxyTo(up.addr)+"metrics: {enabled: true}\n"))
	cache := tls.NewLRUClientSessionCache(4)
	for i := 0; i < 2; i++ {
		conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: p.Pool(), ServerName: "gw.test", ClientSessionCache: cache, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		// A request, so that the TLS 1.3 ticket (sent after the handshake)
		// is read before the connection closes.
		fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
		_, _ = io.ReadAll(conn)
		if got := conn.ConnectionState().DidResume; got != (i == 1) {
			t.Errorf("connection %d resumed: %v", i, got)
		}
		conn.Close()
	}
	full := testutil.ToFloat64(collectorMetric(t, srv, "hotpath_tls_handshakes_total", "side", "listener", "result", "full"))
	resumed := testutil.ToFloat64(collectorMetric(t, srv, "hotpath_tls_handshakes_total", "side", "listener", "result", "resumed"))
	if full != 1 || resumed != 1 {
		t.Errorf("handshakes full %v resumed %v, want 1 and 1", full, resumed)
	}
}

// TestTLSInterop: curl, openssl s_client and wrk, real TLS clients other
// than Go's, are served over HTTP/1.1 and (curl) HTTP/2.
func TestTLSInterop(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, seenHandler)
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, ""), proxyTo(up.addr)))
	_, port, _ := net.SplitHostPort(srv.Addr())
	ran := false
	if curl, err := exec.LookPath("curl"); err == nil {
		ran = true
		for _, proto := range []string{"--http1.1", "--http2"} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, err := exec.CommandContext(ctx, curl, "-sS", proto, "--cacert", p.CAFile,
				"--resolve", "gw.test:"+port+":127.0.0.1", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
				"https://gw.test:"+port+"/x").CombinedOutput()
			cancel()
			want := map[string]string{"--http1.1": "200 1.1", "--http2": "200 2"}[proto]
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("curl %s: %v %q, want %q", proto, err, out, want)
			}
		}
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		ran = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", srv.Addr(), "-servername", "gw.test",
			"-CAfile", p.CAFile, "-verify_return_error", "-alpn", "http/1.1", "-quiet")
		cmd.Stdin = strings.NewReader("GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), "HTTP/1.1 200 OK") {
			t.Errorf("openssl s_client: %v\n%s", err, out)
		}
	}
	if wrk, err := exec.LookPath("wrk"); err == nil {
		ran = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, wrk, "-t1", "-c4", "-d1s", "https://"+srv.Addr()+"/x").CombinedOutput()
		cancel()
		// wrk verifies nothing; it prints "Non-2xx" and socket errors when
		// anything went wrong.
		if err != nil || !strings.Contains(string(out), "requests in") || strings.Contains(string(out), "Non-2xx") ||
			strings.Contains(string(out), "Socket errors") {
			t.Errorf("wrk over https: %v\n%s", err, out)
		}
	}
	if !ran {
		if os.Getenv("HOTPATH_CI") != "" {
			t.Fatal("curl, openssl and wrk missing: .ci/run installs them")
		}
		t.Skip("none of curl, openssl, wrk on PATH")
	}
}

// TestTLSAllocations measures the gateway's mallocs per keep-alive request
// over TLS: the client runs in another process (this test binary again,
// TestTLSClientProcess), so only the gateway and the allocation-free
// upstream count.
func TestTLSAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if os.Getenv("HOTPATH_TLS_CLIENT") != "" {
		t.Skip("in the client process")
	}
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	cfg := tlsTestConfig(t, tlsListener(cert, key, ""), proxyTo(allocFreeUpstream(t)))
	cfg.Workers = 1
	cfg.Timeouts.ClientIdle = time.Minute
	srv := startServer(t, cfg)
	n := 20000
	if s := os.Getenv("HOTPATH_ALLOC_REQUESTS"); s != "" {
		n = atoiOr(s, n)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestTLSClientProcess$")
	cmd.Env = append(os.Environ(), "HOTPATH_TLS_CLIENT="+srv.Addr(), "HOTPATH_TLS_CA="+p.CAFile, fmt.Sprintf("HOTPATH_TLS_N=%d", n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
		}
		t.Fatalf("client process: no %q line", want)
	}
	expect("ready") // connected and warmed up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fmt.Fprintln(stdin, "go")
	expect("done")
	runtime.ReadMemStats(&after)
	got := float64(after.Mallocs-before.Mallocs) / float64(n)
	bytes := float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	t.Logf("%.4f mallocs (%.1f bytes) per proxied request over TLS, %d requests", got, bytes, n)
	// One is crypto/tls's own and cannot be avoided from outside it: each
	// read of ciphertext allocates a 24-byte atLeastReader
	// (crypto/tls.(*Conn).readFromUntil, Go 1.26), as it does on a socket
	// in net/http. Everything else allocates nothing.
	if got > 1.05 || bytes > 26 {
		t.Errorf("%.3f mallocs (%.1f bytes) per proxied request over TLS, want at most crypto/tls's one (24 bytes)", got, bytes)
	}
}

// TestTLSClientProcess is TestTLSAllocations's client: keep-alive requests
// on one TLS connection, counted by the parent process.
func TestTLSClientProcess(t *testing.T) {
	addr := os.Getenv("HOTPATH_TLS_CLIENT")
	if addr == "" {
		t.Skip("run by TestTLSAllocations")
	}
	ca, err := os.ReadFile(os.Getenv("HOTPATH_TLS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "gw.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	proxyLoop(t, c, 1000)
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	in.Scan()
	proxyLoop(t, c, atoiOr(os.Getenv("HOTPATH_TLS_N"), 20000))
	fmt.Println("done")
}

// TestTLSTunnel: an upgraded connection over TLS (wss://) is relayed both
// ways, large writes included, to a plain upstream.
func TestTLSTunnel(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
		_, _ = io.Copy(c, r) // echo
	})
	srv := startServer(t, tlsTestConfig(t, tlsListener(cert, key, "      alpn: [http/1.1]\n"), proxyTo(up.addr)))
	c, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: p.Pool(), ServerName: "gw.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET")
	if resp.StatusCode != 101 {
		t.Fatalf("handshake answered %d", resp.StatusCode)
	}
	msg := strings.Repeat("tunnel over tls ", 1<<14) // 256 KiB
	go func() { _, _ = io.WriteString(c, msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Error("echo differs")
	}
}

// TestTLSCacheKeepsSchemesApart: a response the upstream wrote for an
// https client (X-Forwarded-Proto: https: its links say https) is never
// served from the cache to an http client, nor the other way round.
func TestTLSCacheKeepsSchemesApart(t *testing.T) {
	p := testpki.New(t, 0)
	cert, key := serverCert(p, "gw")
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "link: %s://gw.test/next", r.Header.Get("X-Forwarded-Proto"))
	})
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
workers: 1
listeners:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:0
%s
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /*path
    upstream: app
    cache: {}
`, tlsListener(cert, key, ""), up.addr)))
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, cfg)
	plain, secure := "http://"+srv.Addrs()[0]+"/page", "https://"+srv.Addrs()[1]+"/page"
	get := func(cl *http.Client, url string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = "gw.test" // one cache key but for the scheme
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readBody(t, resp)
	}
	cl, tcl := httpClient(t), httpsClient(t, p.Pool(), false)
	for i := 0; i < 2; i++ { // the second round is served from the cache
		if got := get(tcl, secure); got != "link: https://gw.test/next" {
			t.Errorf("https round %d: %q", i, got)
		}
		if got := get(cl, plain); got != "link: http://gw.test/next" {
			t.Errorf("http round %d: %q", i, got)
		}
	}
	if n := up.reqs.Load(); n != 2 {
		t.Errorf("upstream answered %d requests, want 2 (one per scheme, then hits)", n)
	}
}
