package tlsloop_test

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// TestSNI checks which certificate each client name gets: exact names,
// one-label wildcards, and the default for an unknown name, a name two
// labels below a wildcard, and no SNI at all.
func TestSNI(t *testing.T) {
	p := newPKI(t, 0)
	aCert, aKey := p.issue(leaf{name: "a", cn: "a", dns: []string{"a.example.test"}})
	wCert, wKey := p.issue(leaf{name: "wild", cn: "wild", dns: []string{"*.wild.example.test"}})
	dCert, dKey := p.issue(leaf{name: "default", cn: "default", dns: []string{"default.example.test"}})
	eCert, eKey := p.issue(leaf{name: "explicit", cn: "explicit", dns: []string{"ignored.example.test"}})
	_, s := serverWith(t, tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{
		{CertFile: aCert, KeyFile: aKey},
		{CertFile: wCert, KeyFile: wKey},
		{CertFile: dCert, KeyFile: dKey, Default: true},
		{CertFile: eCert, KeyFile: eKey, ServerNames: []string{"Explicit.Example.Test"}},
	}})
	for _, c := range []struct {
		name, sni, want string
	}{
		{name: "exact", sni: "a.example.test", want: "a"},
		{name: "exact-case", sni: "A.Example.TEST", want: "a"},
		{name: "wildcard", sni: "x.wild.example.test", want: "wild"},
		{name: "wildcard-one-label-only", sni: "y.x.wild.example.test", want: "default"},
		{name: "wildcard-not-apex", sni: "wild.example.test", want: "default"},
		{name: "unknown", sni: "nowhere.test", want: "default"},
		{name: "no-sni", sni: "", want: "default"},
		{name: "server-names-override", sni: "explicit.example.test", want: "explicit"},
		{name: "server-names-replace-sans", sni: "ignored.example.test", want: "default"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: c.sni, InsecureSkipVerify: true}
			status, cs, err := get(t, s.addr, cfg)
			if err != nil || status != 200 {
				t.Fatalf("status %d, err %v", status, err)
			}
			if got := cs.PeerCertificates[0].Subject.CommonName; got != c.want {
				t.Errorf("SNI %q got certificate %q, want %q", c.sni, got, c.want)
			}
		})
	}
	// Verification against the CA succeeds for the names a certificate has.
	if _, _, err := get(t, s.addr, &tls.Config{ServerName: "x.wild.example.test", RootCAs: p.pool()}); err != nil {
		t.Errorf("verified wildcard: %v", err)
	}
}

// TestKeyTypeChoice serves an RSA and an ECDSA certificate for one name and
// checks that each client gets the one it supports.
func TestKeyTypeChoice(t *testing.T) {
	p := newPKI(t, 0)
	ecCert, ecKey := p.issue(leaf{name: "ec", cn: "ecdsa", dns: []string{"both.example.test"}})
	rsaCert, rsaKey := p.issue(leaf{name: "rsa", cn: "rsa", dns: []string{"both.example.test"}, rsa: true})
	_, s := serverWith(t, tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{
		{CertFile: rsaCert, KeyFile: rsaKey},
		{CertFile: ecCert, KeyFile: ecKey},
	}})
	for _, c := range []struct {
		name   string
		suites []uint16
		max    uint16
		want   string
	}{
		{name: "tls12-ecdhe-rsa", suites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, max: tls.VersionTLS12, want: "rsa"},
		{name: "tls12-ecdhe-ecdsa", suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, max: tls.VersionTLS12, want: "ecdsa"},
		// Go's client accepts both in TLS 1.3: the first listed wins.
		{name: "tls13-first-listed", max: tls.VersionTLS13, want: "rsa"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: "both.example.test", RootCAs: p.pool(), CipherSuites: c.suites, MaxVersion: c.max}
			_, cs, err := get(t, s.addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.PeerCertificates[0].Subject.CommonName; got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	// The default (the first certificate) comes with its other key type,
	// since both serve the same names.
	_, cs, err := get(t, s.addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
	if err != nil || cs.PeerCertificates[0].Subject.CommonName != "ecdsa" {
		t.Errorf("default for an ECDSA-only client: %v", err)
	}
}

// TestVersionsAndSuites: TLS 1.2 and 1.3 are served, TLS 1.1 and CBC suites
// are not unless asked.
func TestVersionsAndSuites(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	_, s := serverWith(t, tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}}})
	base := tls.Config{ServerName: "s.example.test", RootCAs: p.pool()}
	for _, c := range []struct {
		name     string
		min, max uint16
		suites   []uint16
		ok       bool
	}{
		{name: "tls13", min: tls.VersionTLS13, max: tls.VersionTLS13, ok: true},
		{name: "tls12", min: tls.VersionTLS12, max: tls.VersionTLS12, ok: true},
		{name: "tls11", min: tls.VersionTLS11, max: tls.VersionTLS11},
		{name: "tls12-cbc-only", max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base.Clone()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = c.min, c.max, c.suites
			_, cs, err := get(t, s.addr, cfg)
			if c.ok && (err != nil || cs.Version != c.max) {
				t.Fatalf("version %x, err %v", cs.Version, err)
			}
			if !c.ok && err == nil {
				t.Fatalf("handshake succeeded with version %x suite %x", cs.Version, cs.CipherSuite)
			}
		})
	}
}

func TestALPN(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	for _, c := range []struct {
		name   string
		server []string
		client []string
		want   string
		fails  bool
	}{
		{name: "default-http11", client: []string{"h2", "http/1.1"}, want: "http/1.1"},
		{name: "h2-preferred", server: []string{"h2", "http/1.1"}, client: []string{"http/1.1", "h2"}, want: "h2"},
		{name: "http11-client", server: []string{"h2", "http/1.1"}, client: []string{"http/1.1"}, want: "http/1.1"},
		{name: "client-without-alpn", want: ""},
		{name: "no-common-protocol", server: []string{"http/1.1"}, client: []string{"h2"}, fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, s := serverWith(t, tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}}, ALPN: c.server})
			_, cs, err := get(t, s.addr, &tls.Config{ServerName: "s.example.test", RootCAs: p.pool(), NextProtos: c.client})
			if c.fails {
				if err == nil {
					t.Fatalf("handshake succeeded with %q", cs.NegotiatedProtocol)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cs.NegotiatedProtocol != c.want {
				t.Errorf("negotiated %q, want %q", cs.NegotiatedProtocol, c.want)
			}
		})
	}
}

// TestResumption: a second connection with the first one's ticket
// resumes (TLS 1.3 and 1.2), the server counts it, and a reload keeps the
// ticket keys.
func TestResumption(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	opts := tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}}}
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			srv, s := serverWith(t, opts)
			cfg := &tls.Config{ServerName: "s.example.test", RootCAs: p.pool(), MaxVersion: version,
				ClientSessionCache: tls.NewLRUClientSessionCache(8)}
			want := []bool{false, true, true}
			for i, resumed := range want {
				if i == 2 {
					if _, err := srv.Reload(opts); err != nil {
						t.Fatal(err)
					}
				}
				_, cs, err := get(t, s.addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if cs.DidResume != resumed {
					t.Errorf("connection %d: resumed %v, want %v", i, cs.DidResume, resumed)
				}
			}
			st := srv.Stats()
			if st.Handshakes != 3 || st.Resumed != 2 {
				t.Errorf("stats %+v: want 3 handshakes, 2 resumed", st)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		o := opts
		o.DisableSessionTickets = true
		srv, s := serverWith(t, o)
		cfg := &tls.Config{ServerName: "s.example.test", RootCAs: p.pool(), ClientSessionCache: tls.NewLRUClientSessionCache(8)}
		for range 2 {
			if _, cs, err := get(t, s.addr, cfg); err != nil || cs.DidResume {
				t.Fatalf("resumed %v, err %v", cs.DidResume, err)
			}
		}
		if st := srv.Stats(); st.Resumed != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestLoadRefuses checks that each unusable file is refused with its field,
// file and reason.
func TestLoadRefuses(t *testing.T) {
	p := newPKI(t, 0)
	good, goodKey := p.issue(leaf{name: "good", cn: "good", dns: []string{"good.example.test"}})
	expired, expiredKey := p.issue(leaf{name: "expired", cn: "old", dns: []string{"old.example.test"},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	other := p.otherKey("other.key")
	encrypted := p.write("enc.key", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	notPEM := p.write("junk.pem", []byte("not a certificate\n"))
	for _, c := range []struct {
		name   string
		opts   tlsloop.ServerOptions
		field  string
		file   string
		reason string
	}{
		{name: "expired", opts: certs(expired, expiredKey), field: "cert_file", file: expired, reason: "expired on"},
		{name: "mismatched-key", opts: certs(good, other), field: "key_file", file: other, reason: "does not match the certificate"},
		{name: "missing-cert", opts: certs(p.dir+"/none.pem", goodKey), field: "cert_file", file: p.dir + "/none.pem", reason: "cannot read: no such file"},
		{name: "missing-key", opts: certs(good, p.dir+"/none.key"), field: "key_file", file: p.dir + "/none.key", reason: "cannot read"},
		{name: "cert-not-pem", opts: certs(notPEM, goodKey), field: "cert_file", file: notPEM, reason: "no PEM certificate"},
		{name: "key-in-cert-file", opts: certs(goodKey, goodKey), field: "cert_file", file: goodKey, reason: "holds a private key"},
		{name: "cert-in-key-file", opts: certs(good, good), field: "key_file", file: good, reason: "holds a certificate"},
		{name: "encrypted-key", opts: certs(good, encrypted), field: "key_file", file: encrypted, reason: "encrypted"},
		{name: "bad-server-name", opts: tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: good, KeyFile: goodKey, ServerNames: []string{"a.*.test"}}}},
			field: "server_names[0]", file: good, reason: "wildcard"},
		{name: "client-ca-missing", opts: func() tlsloop.ServerOptions {
			o := certs(good, goodKey)
			o.ClientAuth = tlsloop.RequireClientCert
			return o
		}(), field: "client_ca_file", reason: "is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := tlsloop.LoadServer(c.opts, time.Now())
			var errs tlsloop.LoadErrors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("err = %v, want one LoadError", err)
			}
			e := errs[0]
			if e.Field != c.field || e.File != c.file || !strings.Contains(e.Reason, c.reason) {
				t.Errorf("got field %q file %q reason %q; want %q %q ...%q...", e.Field, e.File, e.Reason, c.field, c.file, c.reason)
			}
		})
	}
	t.Run("warnings", func(t *testing.T) {
		soon, soonKey := p.issue(leaf{name: "soon", cn: "soon", dns: []string{"soon.example.test"}, notAfter: time.Now().Add(72 * time.Hour)})
		sc, err := tlsloop.LoadServer(certs(soon, soonKey), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if w := sc.Warnings(); len(w) != 1 || !strings.Contains(w[0], "expires in") {
			t.Errorf("warnings %q", w)
		}
		if info := sc.Certificates()[0]; info.KeyType != "ECDSA P-256" || info.Names[0] != "soon.example.test" || !info.Default {
			t.Errorf("info %+v", info)
		}
	})
}

func certs(cert, key string) tlsloop.ServerOptions {
	return tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}}}
}

// TestReloadUnderLoad reloads between two certificates while client
// goroutines open new connections in a loop: no handshake fails, both
// certificates are seen, and a bad certificate is refused with the old one
// serving on.
func TestReloadUnderLoad(t *testing.T) {
	p := newPKI(t, 0)
	aCert, aKey := p.issue(leaf{name: "one", cn: "one", dns: []string{"r.example.test"}})
	bCert, bKey := p.issue(leaf{name: "two", cn: "two", dns: []string{"r.example.test"}})
	expired, expiredKey := p.issue(leaf{name: "expired", cn: "expired", dns: []string{"r.example.test"},
		notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)})
	srv, s := serverWith(t, certs(aCert, aKey))
	srv2 := srv

	var (
		stop     atomic.Bool
		ok, fail atomic.Int64
		seen     sync.Map
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	cfg := &tls.Config{ServerName: "r.example.test", RootCAs: p.pool()}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				status, cs, err := get(t, s.addr, cfg)
				if err != nil || status != 200 {
					fail.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
				seen.Store(cs.PeerCertificates[0].Subject.CommonName, true)
			}
		}()
	}
	for i := range 40 {
		from := ok.Load()
		o := certs(aCert, aKey)
		if i%2 == 1 {
			o = certs(bCert, bKey)
		}
		if _, err := srv2.Reload(o); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			before := srv.Config()
			if _, err := srv.Reload(certs(expired, expiredKey)); err == nil {
				t.Error("an expired certificate was accepted at reload")
			}
			if srv.Config() != before {
				t.Error("a refused reload changed the config")
			}
		}
		eventually(t, "serving after a reload", func() bool { return ok.Load() > from+2 })
	}
	stop.Store(true)
	wg.Wait()
	if fail.Load() != 0 {
		t.Errorf("%d of %d connections failed across reloads; first: %v", fail.Load(), ok.Load()+fail.Load(), firstErr.Load())
	}
	for _, cn := range []string{"one", "two"} {
		if _, ok := seen.Load(cn); !ok {
			t.Errorf("certificate %q never served", cn)
		}
	}
	if _, ok := seen.Load("expired"); ok {
		t.Error("the refused certificate was served")
	}
}

// TestMutualTLS: require refuses a client without a certificate or with one
// from another CA, and passes a verified one's subject on; optional
// accepts a client without one.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t, 0)
	other := newPKI(t, 1)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	aliceCert, aliceKey := p.issue(leaf{name: "alice", cn: "alice", client: true, uris: []string{"spiffe://example.test/alice"}})
	malloryCert, malloryKey := other.issue(leaf{name: "mallory", cn: "mallory", client: true})
	alice, err := tls.LoadX509KeyPair(aliceCert, aliceKey)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := tls.LoadX509KeyPair(malloryCert, malloryKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []tlsloop.ClientAuth{tlsloop.RequireClientCert, tlsloop.OptionalClientCert} {
		srv, s := serverWith(t, tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}},
			ClientAuth: mode, ClientCAFile: p.caFile})
		for _, c := range []struct {
			name    string
			certs   []tls.Certificate
			ok      bool
			subject string
		}{
			{name: "verified", certs: []tls.Certificate{alice}, ok: true, subject: "CN=alice,O=hotpath tests"},
			{name: "other-ca", certs: []tls.Certificate{mallory}},
			{name: "none", ok: mode == tlsloop.OptionalClientCert},
		} {
			t.Run(map[tlsloop.ClientAuth]string{tlsloop.RequireClientCert: "require", tlsloop.OptionalClientCert: "optional"}[mode]+"/"+c.name, func(t *testing.T) {
				cfg := &tls.Config{ServerName: "s.example.test", RootCAs: p.pool()}
				if c.certs != nil {
					// Go's client sends only a certificate from a CA the
					// server lists: make it send mallory's anyway.
					cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.certs[0], nil }
				}
				conn, err := tls.Dial("tcp", s.addr, cfg)
				if err != nil {
					t.Fatal(err) // TLS 1.3: the client's side completes before the server verifies
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				resp, err := readResponse(conn)
				if !c.ok {
					if err == nil {
						t.Fatalf("served: %v", resp.Status)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.Header.Get("X-Client-Subject"); got != c.subject {
					t.Errorf("subject header %q, want %q", got, c.subject)
				}
			})
		}
		if st := srv.Stats(); st.Failed == 0 {
			t.Errorf("no failed handshake counted: %+v", st)
		}
	}
}

// TestPeerIdentity checks the rendered subject and SANs of a client
// certificate, through a Conn's Info.
func TestPeerIdentity(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	aliceCert, aliceKey := p.issue(leaf{name: "alice", cn: "alice\r\nX-Evil: 1", client: true,
		dns: []string{"alice.example.test"}, uris: []string{"spiffe://example.test/alice"}, ips: []net.IP{net.IPv4(10, 0, 0, 1)}})
	sc, err := tlsloop.LoadServer(tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}},
		ClientAuth: tlsloop.RequireClientCert, ClientCAFile: p.caFile}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{CAFile: p.caFile, CertFile: aliceCert, KeyFile: aliceKey})
	if err != nil {
		t.Fatal(err)
	}
	server, client := memPair(t, tlsloop.NewServer(sc), cl, "s.example.test")
	peer := server.Info().Peer
	if peer == nil || !peer.Verified {
		t.Fatalf("peer %+v", peer)
	}
	if want := `CN=alice\x0d\x0aX-Evil: 1,O=hotpath tests`; peer.Subject != want {
		t.Errorf("subject %q, want %q", peer.Subject, want)
	}
	if want := "DNS:alice.example.test,URI:spiffe://example.test/alice,IP:10.0.0.1"; peer.SANs != want {
		t.Errorf("SANs %q, want %q", peer.SANs, want)
	}
	if up := client.Info().Peer; up == nil || !up.Verified || up.Subject != "CN=s,O=hotpath tests" {
		t.Errorf("the client's view of the server: %+v", up)
	}
}
