package engine

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/hotpath/hotpath/config"
)

const testSecret = "0123456789abcdef0123456789abcdef"

// seenUpstream is an upstream that records the last request it received
// and answers 200 with a few fields for the response edits to work on.
type seenUpstream struct {
	*httpUpstream
	mu   sync.Mutex
	hdr  http.Header
	uri  string
	reqs int
}

func newSeenUpstream(t *testing.T) *seenUpstream {
	s := &seenUpstream{}
	s.httpUpstream = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hdr, s.uri = r.Header.Clone(), r.URL.RequestURI()
		s.reqs++
		s.mu.Unlock()
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("Server", "app/1.0")
		w.Header().Set("X-Request-Id", "from-upstream")
		_, _ = w.Write([]byte("ok"))
	})
	return s
}

func (s *seenUpstream) last() (http.Header, string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hdr, s.uri, s.reqs
}

func hs256(t testing.TB, key string, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func goodClaims(extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"iss": "https://idp.test", "aud": "api", "sub": "alice", "scope": "read write",
		"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// get sends one request with extra header lines and returns the response
// and its body.
func get(t *testing.T, srv *Server, target string, hdrs ...string) (*http.Response, string) {
	t.Helper()
	c := dial(t, srv)
	raw := "GET " + target + " HTTP/1.1\r\nHost: gw.test\r\n"
	for _, h := range hdrs {
		raw += h + "\r\n"
	}
	resp := roundTrip(t, c, bufio.NewReader(c), raw+"\r\n", "GET")
	return resp, readBody(t, resp)
}

func TestAuthJWT(t *testing.T) {
	up := newSeenUpstream(t)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	pemFile := filepath.Join(t.TempDir(), "es.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /api/*rest
    upstream: app
    auth:
      jwt:
        keys:
          - {kid: k1, alg: HS256, secret: %q}
          - {kid: k2, alg: ES256, public_key_file: %s}
        issuer: https://idp.test
        audience: [api]
        leeway: 30s
        query: access_token
        claims_to_headers: {sub: X-User-Id}
        required_claims: {scope: read}
`, up.addr, testSecret, pemFile)))
	kid := func(kid string, tok *jwt.Token) *jwt.Token { tok.Header["kid"] = kid; return tok }
	es, _ := kid("k2", jwt.NewWithClaims(jwt.SigningMethodES256, goodClaims(nil))).SignedString(ecKey)
	noneTok, _ := kid("k1", jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims(nil))).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// HS256 with the "kid" of the ES256 key: the alg is pinned per key.
	wrongAlg, _ := kid("k2", jwt.NewWithClaims(jwt.SigningMethodHS256, goodClaims(nil))).SignedString([]byte(testSecret))
	signed := func(c jwt.MapClaims) string {
		s, _ := kid("k1", jwt.NewWithClaims(jwt.SigningMethodHS256, c)).SignedString([]byte(testSecret))
		return s
	}
	good := signed(goodClaims(nil))

	for _, tc := range []struct {
		name, token string
		status      int
		challenge   string
	}{
		{"hs256", good, 200, ""},
		{"es256", es, 200, ""},
		{"missing", "", 401, `Bearer`}, // RFC 6750 §3.1: no error code without a token
		{"expired", signed(goodClaims(jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()})), 401, `Bearer error="invalid_token"`},
		{"wrong alg", wrongAlg, 401, `Bearer error="invalid_token"`},
		{"none", noneTok, 401, `Bearer error="invalid_token"`},
		{"wrong issuer", signed(goodClaims(jwt.MapClaims{"iss": "https://evil"})), 401, `Bearer error="invalid_token"`},
		{"wrong audience", signed(goodClaims(jwt.MapClaims{"aud": "other"})), 401, `Bearer error="invalid_token"`},
		{"bad signature", good[:len(good)-3] + "AAA", 401, `Bearer error="invalid_token"`},
		{"missing scope", signed(goodClaims(jwt.MapClaims{"scope": "write"})), 403, `Bearer error="insufficient_scope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, before := up.last()
			hdrs := []string{"X-User-Id: mallory"}
			if tc.token != "" {
				hdrs = append(hdrs, "Authorization: Bearer "+tc.token)
			}
			// Twice: the second answer comes from the loop's cache when the
			// token was accepted.
			for i := 0; i < 2; i++ {
				resp, _ := get(t, srv, "/api/x", hdrs...)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
				}
			}
			h, _, after := up.last()
			if tc.status != 200 {
				if after != before {
					t.Fatal("a refused request reached the upstream")
				}
				return
			}
			if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
				t.Errorf("upstream X-User-Id %q, want [alice] (the client's copy removed)", got)
			}
			if h.Get("Authorization") != "" {
				t.Errorf("Authorization forwarded: %q", h.Get("Authorization"))
			}
		})
	}

	t.Run("query", func(t *testing.T) {
		resp, _ := get(t, srv, "/api/q?a=1&access_token="+good+"&b=2")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if _, uri, _ := up.last(); uri != "/api/q?a=1&b=2" {
			t.Errorf("upstream URI %q: the token must be removed", uri)
		}
	})

	waitMetrics(t, srv, []metricWant{
		{"hotpath_auth_rejections_total", []string{"route", "/api/*rest", "reason", "missing"}, 2},
		{"hotpath_auth_rejections_total", []string{"route", "/api/*rest", "reason", "invalid"}, 12},
		{"hotpath_auth_rejections_total", []string{"route", "/api/*rest", "reason", "forbidden"}, 2},
	})
}

func TestAuthAPIKeyAndLimitByIdentity(t *testing.T) {
	up := newSeenUpstream(t)
	sum := sha256.Sum256([]byte("key-of-a"))
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /*rest
    upstream: app
    auth:
      api_key:
        name_header: X-Consumer
        keys:
          - {name: partner-a, key_sha256: %s}
          - {name: partner-b, key: key-of-b}
    rate_limit: {rate: 1, per: 1h, key: ["header:X-Consumer"]}
`, up.addr, hex.EncodeToString(sum[:]))))
	for _, tc := range []struct {
		name   string
		hdrs   []string
		status int
		who    string
	}{
		{"missing", nil, 401, ""},
		{"wrong key", []string{"X-Api-Key: key-of-c"}, 401, ""},
		// A forged X-Consumer neither authenticates nor picks a bucket.
		{"forged consumer", []string{"X-Consumer: partner-b"}, 401, ""},
		{"partner-a", []string{"X-Api-Key: key-of-a", "X-Consumer: partner-b"}, 200, "partner-a"},
		{"partner-a limited", []string{"X-Api-Key: key-of-a"}, 429, ""},
		{"partner-b own bucket", []string{"X-Api-Key: key-of-b"}, 200, "partner-b"},
	} {
		resp, _ := get(t, srv, "/x", tc.hdrs...)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
		if tc.who != "" {
			h, _, _ := up.last()
			if got := h.Values("X-Consumer"); len(got) != 1 || got[0] != tc.who {
				t.Errorf("%s: upstream X-Consumer %q, want %q", tc.name, got, tc.who)
			}
			if h.Get("X-Api-Key") != "" {
				t.Errorf("%s: X-Api-Key forwarded", tc.name)
			}
		}
	}
}

func TestAuthBasic(t *testing.T) {
	up := newSeenUpstream(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /*rest
    upstream: app
    auth:
      basic: {realm: "staff only", htpasswd_file: %s, user_header: X-User}
      forward_credentials: true
`, up.addr, file)))
	basic := func(s string) string { return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		hdrs   []string
		status int
	}{
		{"missing", nil, 401},
		{"wrong password", []string{basic("alice:nope")}, 401},
		{"unknown user", []string{basic("bob:s3cret")}, 401},
		{"bearer", []string{"Authorization: Bearer abc"}, 401},
		{"good", []string{basic("alice:s3cret")}, 200},
		{"good again", []string{basic("alice:s3cret")}, 200},
	} {
		resp, _ := get(t, srv, "/x", tc.hdrs...)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.status == 401 {
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="staff only", charset="UTF-8"` {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, got)
			}
			continue
		}
		h, _, _ := up.last()
		if h.Get("X-User") != "alice" || !strings.HasPrefix(h.Get("Authorization"), "Basic ") {
			t.Errorf("%s: upstream saw X-User %q, Authorization %q (forward_credentials)", tc.name, h.Get("X-User"), h.Get("Authorization"))
		}
	}
}

func TestHeaderEditsAndRequestID(t *testing.T) {
	up := newSeenUpstream(t)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - name: edited
    path: /e/*rest
    upstream: app
    request_id: true
    headers:
      request:
        set: {X-Env: prod, X-Client: "${client_ip}"}
        add: {X-Route: "route=${route}"}
        remove: [X-Debug]
      response:
        set: {Server: hotpath}
        add: {X-Trace: "${request_id}"}
        remove: [X-Internal]
  - name: direct
    path: /d
    direct: {status: 200, body: hi, headers: {X-Internal: d, X-Keep: k}}
    headers:
      response: {remove: [X-Internal], add: {X-Added: "yes"}}
`, up.addr)))
	resp, _ := get(t, srv, "/e/1", "X-Env: dev", "X-Debug: 1", "X-Other: o")
	h, _, _ := up.last()
	for name, want := range map[string]string{"X-Env": "prod", "X-Client": "127.0.0.1", "X-Route": "route=edited", "X-Debug": "", "X-Other": "o"} {
		if got := strings.Join(h.Values(name), ","); got != want {
			t.Errorf("upstream %s = %q, want %q", name, got, want)
		}
	}
	id := h.Get("X-Request-Id")
	if len(id) != 32 {
		t.Errorf("generated request ID %q, want 32 hex digits", id)
	}
	for name, want := range map[string]string{"Server": "hotpath", "X-Internal": "", "X-Trace": id, "X-Request-Id": id} {
		if got := strings.Join(resp.Header.Values(name), ","); got != want {
			t.Errorf("response %s = %q, want %q", name, got, want)
		}
	}
	// A valid incoming ID is kept; an invalid one is replaced.
	resp, _ = get(t, srv, "/e/2", "X-Request-Id: abc-123")
	if h, _, _ := up.last(); h.Get("X-Request-Id") != "abc-123" || resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("incoming ID not propagated: upstream %q, response %q", h.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
	}
	get(t, srv, "/e/3", "X-Request-Id: bad id\x01")
	if h, _, _ := up.last(); h.Get("X-Request-Id") == "" || strings.Contains(h.Get("X-Request-Id"), "bad") {
		t.Errorf("invalid ID forwarded: %q", h.Get("X-Request-Id"))
	}
	resp, body := get(t, srv, "/d")
	if body != "hi" || resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Keep") != "k" || resp.Header.Get("X-Added") != "yes" {
		t.Errorf("direct: body %q, fields %v", body, resp.Header)
	}
}

func TestAuthConfigErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	_ = os.WriteFile(junk, []byte("not a key"), 0o600)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"alg", `{jwt: {keys: [{alg: none, secret: x}]}}`, `test.yaml:11: routes[0].auth.jwt.keys[0].alg: unsupported alg "none"`},
		{"short secret", `{jwt: {keys: [{alg: HS256, secret: short}]}}`, "routes[0].auth.jwt.keys[0].secret: must be at least 32 bytes"},
		{"two methods", `{jwt: {keys: [{alg: HS256, secret: ` + testSecret + `}]}, api_key: {keys: [{name: a, key: b}]}}`, "routes[0].auth: set exactly one of jwt, api_key, basic"},
		{"hex", `{api_key: {keys: [{name: a, key_sha256: abc}]}}`, "routes[0].auth.api_key.keys[0].key_sha256: want 64 hex digits"},
		{"header name", `{api_key: {header: "X Key", keys: [{name: a, key: b}]}}`, `routes[0].auth.api_key.header: not a header name: "X Key"`},
		{"unreadable", `{jwt: {keys: [{alg: RS256, public_key_file: ` + filepath.Join(dir, "missing.pem") + `}]}}`, "routes[0].auth.jwt.keys[0].public_key_file: cannot read"},
		{"pem", `{jwt: {keys: [{alg: ES256, public_key_file: ` + junk + `}]}}`, "routes[0].auth.jwt.keys[0].public_key_file: auth: no PEM public key"},
		{"htpasswd", `{basic: {htpasswd_file: ` + junk + `}}`, "routes[0].auth.basic.htpasswd_file: " + junk + ": line 1: auth: htpasswd entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "upstreams:\n  - name: app\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /\n    upstream: app\n    auth: " + tc.yaml + "\n"
			err := checkYAML(y)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"variable", `{request: {set: {X-A: "${host}"}}}`, "routes[0].headers.request.set.X-A: unknown variable ${host}"},
		{"managed", `{response: {remove: [Content-Length]}}`, "routes[0].headers.response.remove[0]: Content-Length is managed by the gateway"},
		{"name", `{request: {add: {"X:A": v}}}`, `not a header name: "X:A"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "upstreams:\n  - name: app\n    endpoints: [{address: \"127.0.0.1:1\"}]\nroutes:\n  - path: /\n    upstream: app\n    headers: " + tc.yaml + "\n"
			if err := checkYAML(y); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// checkYAML is what hotpath -check does: parse and validate, then compile.
func checkYAML(y string) error {
	y = "listeners: [{address: \"127.0.0.1:0\"}]\n" + strings.Repeat("\n", 3) + y
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		return err
	}
	return Check(cfg)
}

// TestHeaderEditsOnCachedResponses checks that a response served from the
// cache gets the route's response edits and its own request ID.
func TestHeaderEditsOnCachedResponses(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("X-Request-Id", "from-upstream")
		_, _ = w.Write([]byte("cached body"))
	})
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /c
    upstream: app
    request_id: true
    cache: {}
    headers:
      response: {remove: [X-Internal], set: {X-Edge: "${route}"}}
`, up.addr)))
	var ids []string
	for i, want := range []string{"MISS", "HIT"} {
		resp, body := get(t, srv, "/c")
		if body != "cached body" || !strings.HasPrefix(resp.Header.Get("X-Cache"), want) {
			t.Fatalf("request %d: X-Cache %q body %q", i, resp.Header.Get("X-Cache"), body)
		}
		if resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Edge") != "/c" {
			t.Errorf("request %d (%s): edits not applied: %v", i, want, resp.Header)
		}
		id := resp.Header.Values("X-Request-Id")
		if len(id) != 1 || len(id[0]) != 32 {
			t.Fatalf("request %d: X-Request-Id %q", i, id)
		}
		ids = append(ids, id[0])
	}
	if ids[0] == ids[1] {
		t.Error("a cache hit repeated the stored request ID")
	}
	if up.reqs.Load() != 1 {
		t.Errorf("upstream saw %d requests, want 1", up.reqs.Load())
	}
}

// On a cached route with auth, a response the upstream did not mark
// shareable is never stored, so one consumer's response cannot be served
// to another; a public one is shared.
func TestAuthCachedRouteKeepsConsumersApart(t *testing.T) {
	var public atomic.Bool
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if public.Load() {
			w.Header().Set("Cache-Control", "public, max-age=60")
		} else {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		_, _ = w.Write([]byte("for " + r.Header.Get("X-Consumer")))
	})
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /*rest
    upstream: app
    cache: {default_ttl: 1m}
    auth:
      api_key:
        name_header: X-Consumer
        keys:
          - {name: a, key: key-of-a}
          - {name: b, key: key-of-b}
`, up.addr)))
	for i, tc := range []struct{ key, body, xcache string }{
		{"key-of-a", "for a", "MISS"},
		{"key-of-b", "for b", "MISS"}, // a's response was not stored
		{"key-of-a", "for a", "MISS"},
	} {
		resp, body := get(t, srv, "/private", "X-Api-Key: "+tc.key)
		if body != tc.body || !strings.HasPrefix(resp.Header.Get("X-Cache"), tc.xcache) {
			t.Fatalf("request %d: body %q X-Cache %q, want %q %s", i, body, resp.Header.Get("X-Cache"), tc.body, tc.xcache)
		}
	}
	public.Store(true)
	for i, tc := range []struct{ key, xcache string }{{"key-of-a", "MISS"}, {"key-of-b", "HIT"}} {
		resp, body := get(t, srv, "/shared", "X-Api-Key: "+tc.key)
		if body != "for a" || !strings.HasPrefix(resp.Header.Get("X-Cache"), tc.xcache) {
			t.Fatalf("public %d: body %q X-Cache %q, want %q %s", i, body, resp.Header.Get("X-Cache"), "for a", tc.xcache)
		}
	}
	if n := up.reqs.Load(); n != 4 {
		t.Errorf("upstream saw %d requests, want 4", n)
	}
}
