package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Attacks on what a request means to the gateway against what it means to
// the upstream behind it. Every test checks what a real upstream (net/http,
// which decodes and frames as most application servers do) received.

// seenRequest is one request as the upstream parsed it.
type seenRequest struct {
	Method string
	Target string // the request-target as received (RequestURI)
	Path   string // as the upstream decoded it (URL.Path)
	Host   string
	Header http.Header
	Body   string
}

// recordingUpstream is a net/http upstream that records every request it
// parses, answering 200 with X-Upstream: name.
type recordingUpstream struct {
	*httpUpstream
	name string
	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingUpstream(t *testing.T, name string) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{name: name}
	u.httpUpstream = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{
			Method: r.Method, Target: r.RequestURI, Path: r.URL.Path, Host: r.Host,
			Header: r.Header.Clone(), Body: string(body),
		})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		_, _ = io.WriteString(w, "ok")
	})
	return u
}

func (u *recordingUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// last returns the last request the upstream received, failing when none.
func (u *recordingUpstream) last(t *testing.T) seenRequest {
	t.Helper()
	rs := u.requests()
	if len(rs) == 0 {
		t.Fatalf("upstream %s received no request", u.name)
	}
	return rs[len(rs)-1]
}

// TestConnectionCannotRemoveFraming: a client that names Content-Length in
// Connection must not get its body forwarded without it (the upstream
// would read the body as a second request, past any route or auth check).
func TestConnectionCannotRemoveFraming(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /public/*rest
    upstream: app
`, up.addr)))
	for _, tc := range []struct {
		name       string
		connection string
	}{
		{name: "content-length", connection: "Content-Length"},
		{name: "mixed-case-list", connection: "keep-alive, content-LENGTH"},
		{name: "host", connection: "Host, Content-Length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			smuggled := "GET /private/x HTTP/1.1\r\nHost: gw\r\n\r\n"
			c := dial(t, srv)
			br := bufio.NewReader(c)
			raw := "POST /public/a HTTP/1.1\r\nHost: gw\r\nConnection: " + tc.connection +
				"\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled
			resp := roundTrip(t, c, br, raw, "POST")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			readBody(t, resp)
			got := up.requests()[before:]
			if len(got) != 1 {
				t.Fatalf("upstream saw %d requests, want 1: %+v", len(got), got)
			}
			if got[0].Method != "POST" || got[0].Body != smuggled {
				t.Fatalf("upstream saw %s with body %q, want POST with the smuggled text as its body", got[0].Method, got[0].Body)
			}
			if got[0].Host != "gw" && !strings.HasPrefix(got[0].Host, "127.0.0.1") {
				t.Fatalf("upstream Host %q", got[0].Host)
			}
		})
	}
}

// TestResponseConnectionCannotRemoveFraming: the same attack from an
// upstream's response would leave the client reading a body without its
// length; the next response on the connection would be misread.
func TestResponseConnectionCannotRemoveFraming(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := range 2 {
		resp := roundTrip(t, c, br, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n", "GET")
		if resp.ContentLength != 5 {
			t.Fatalf("response %d: Content-Length %d, want 5", i, resp.ContentLength)
		}
		if body := readBody(t, resp); body != "hello" {
			t.Fatalf("response %d: body %q", i, body)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := br.Read(make([]byte, 1)); n != 0 {
		t.Fatal("bytes after the second response")
	}
}

// securityRoutes is the attacker's playground of issue 19: a protected
// prefix, a public one, a rewrite, a stripped prefix and a catch-all, each
// on its own recording upstream so that the route chosen is visible.
type securityRig struct {
	srv                           *Server
	private, public, users, other *recordingUpstream
}

func newSecurityRig(t *testing.T, router string) *securityRig {
	t.Helper()
	r := &securityRig{
		private: newRecordingUpstream(t, "private"),
		public:  newRecordingUpstream(t, "public"),
		users:   newRecordingUpstream(t, "users"),
		other:   newRecordingUpstream(t, "other"),
	}
	r.srv = startServer(t, testConfig(t, fmt.Sprintf(`
router: {%s}
upstreams:
  - {name: private, endpoints: [{address: %s}]}
  - {name: public, endpoints: [{address: %s}]}
  - {name: users, endpoints: [{address: %s}]}
  - {name: other, endpoints: [{address: %s}]}
routes:
  - path: /private/*rest
    upstream: private
    auth: {api_key: {keys: [{name: ops, key: sesame}]}}
  - path: /public/*rest
    upstream: public
  - path: /s/*rest
    upstream: public
    strip_prefix: /s
  - path: /users/:id
    upstream: users
    rewrite: /api/users/:id
  - path: /*any
    upstream: other
`, router, r.private.addr, r.public.addr, r.users.addr, r.other.addr)))
	return r
}

// send sends one GET for target and returns the status and which upstream,
// if any, received a new request, with what target.
func (r *securityRig) send(t *testing.T, target, extra string) (status int, upstream, forwarded string) {
	t.Helper()
	ups := []*recordingUpstream{r.private, r.public, r.users, r.other}
	before := make([]int, len(ups))
	for i, u := range ups {
		before[i] = len(u.requests())
	}
	c := dial(t, r.srv)
	resp := roundTrip(t, c, bufio.NewReader(c), "GET "+target+" HTTP/1.1\r\nHost: gw\r\n"+extra+"\r\n", "GET")
	readBody(t, resp)
	for i, u := range ups {
		if rs := u.requests(); len(rs) > before[i] {
			if upstream != "" {
				t.Fatalf("%s reached two upstreams", target)
			}
			upstream, forwarded = u.name, rs[len(rs)-1].Target
		}
	}
	return resp.StatusCode, upstream, forwarded
}

// TestPathNormalization: the route a path takes is the resource the
// upstream serves, whatever the client encodes. Each row: the target sent,
// the status, the upstream reached ("" for none) and the target it got.
func TestPathNormalization(t *testing.T) {
	type row struct {
		name, target, extra string
		status              int
		upstream, forwarded string
	}
	for _, mode := range []struct {
		name, router string
		rows         []row
	}{
		{name: "reject", router: "", rows: []row{ // the default
			{name: "encoded-slash", target: "/private%2fx", status: 400},
			{name: "encoded-slash-upper", target: "/private%2Fx", status: 400},
			{name: "traversal", target: "/public/..%2fprivate/x", status: 400},
			{name: "encoded-backslash", target: "/public/..%5cprivate", status: 400},
			{name: "raw-backslash", target: `/public/..\private`, status: 400},
			{name: "encoded-dots", target: "/public/%2e%2e/private/x", status: 400},
			{name: "dot-segments", target: "/public/../private/x", status: 400},
			{name: "encoded-nul", target: "/public/a%00", status: 400},
			{name: "rewrite-param", target: "/users/..%2f..%2fprivate%2fx", status: 400},
			{name: "strip-prefix", target: "/s%2fprivate/x", status: 400},
			{name: "private-without-key", target: "/private/x", status: 401},
			{name: "private-with-key", target: "/private/x", extra: "X-Api-Key: sesame\r\n", status: 200, upstream: "private", forwarded: "/private/x"},
			{name: "other-escapes-kept", target: "/public/a%20b?q=%2F", status: 200, upstream: "public", forwarded: "/public/a%20b?q=%2F"},
			{name: "rewrite", target: "/users/42", status: 200, upstream: "users", forwarded: "/api/users/42"},
		}},
		{name: "decode", router: "path_normalization: decode", rows: []row{
			{name: "encoded-slash-needs-key", target: "/private%2fx", status: 401},
			{name: "encoded-slash-with-key", target: "/private%2Fx", extra: "X-Api-Key: sesame\r\n", status: 200, upstream: "private", forwarded: "/private/x"},
			{name: "traversal", target: "/public/..%2fprivate/x", status: 400},
			{name: "double-slash", target: "/public%2f%2fx", status: 400},
			{name: "encoded-backslash", target: "/public/a%5Cb", status: 400},
			{name: "decoded-forwarded", target: "/public/a%2Fb", status: 200, upstream: "public", forwarded: "/public/a/b"},
			{name: "rewrite-param", target: "/users/..%2f..%2fprivate%2fx", status: 400},
			{name: "rewrite-param-slash", target: "/users/4%2F2", status: 200, upstream: "other", forwarded: "/users/4/2"},
			{name: "strip-prefix", target: "/s%2fa", status: 200, upstream: "public", forwarded: "/a"},
		}},
		{name: "keep", router: "path_normalization: keep", rows: []row{
			{name: "encoded-slash-one-segment", target: "/private%2fx", status: 200, upstream: "other", forwarded: "/private%2Fx"},
			{name: "traversal-still-refused", target: "/public/../private", status: 400},
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			rig := newSecurityRig(t, mode.router)
			for _, tc := range mode.rows {
				t.Run(tc.name, func(t *testing.T) {
					status, upstream, forwarded := rig.send(t, tc.target, tc.extra)
					if status != tc.status || upstream != tc.upstream || forwarded != tc.forwarded {
						t.Fatalf("GET %s: %d, upstream %q got %q; want %d, %q got %q",
							tc.target, status, upstream, forwarded, tc.status, tc.upstream, tc.forwarded)
					}
				})
			}
		})
	}
}

// TestPathKeysNormalized: limiter and cache keys see the normalised path,
// so "%2F", "%2f" and "/" are one bucket and one entry when decoding.
func TestPathKeysNormalized(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
router: {path_normalization: decode}
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /rl/*rest
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, key: [path]}
  - path: /c/*rest
    upstream: app
    cache: {default_ttl: 1h}
`, up.addr)))
	get := func(target string) *http.Response {
		c := dial(t, srv)
		resp := roundTrip(t, c, bufio.NewReader(c), "GET "+target+" HTTP/1.1\r\nHost: gw\r\n\r\n", "GET")
		readBody(t, resp)
		return resp
	}
	for i, target := range []string{"/rl/a%2fb", "/rl/a%2Fb", "/rl/a/b"} {
		want := 429
		if i == 0 {
			want = 200
		}
		if got := get(target).StatusCode; got != want {
			t.Fatalf("GET %s: %d, want %d (one bucket for every spelling)", target, got, want)
		}
	}
	for i, target := range []string{"/c/a%2Fb", "/c/a/b", "/c/a%2fb"} {
		want := "HIT"
		if i == 0 {
			want = "MISS"
		}
		if got := get(target).Header.Get("X-Cache"); got != want {
			t.Fatalf("GET %s: X-Cache %q, want %q (one entry for every spelling)", target, got, want)
		}
	}
}

// getFrom sends one GET with extra header lines ("Name: value") and returns
// the response and its body.
func getFrom(t *testing.T, srv *Server, target string, hdrs ...string) (*http.Response, string) {
	return get(t, srv, target, hdrs...)
}

// TestUnderscoreHeaders: X_User_Id reaches CGI-style upstreams as
// HTTP_X_USER_ID, beside or instead of the X-User-Id the gateway sets.
func TestUnderscoreHeaders(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		status    int
		forwarded bool
	}{
		{mode: "", status: 200}, // the default: drop
		{mode: "drop", status: 200},
		{mode: "reject", status: 400},
		{mode: "forward", status: 200, forwarded: true},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			up := newRecordingUpstream(t, "app")
			limits := ""
			if tc.mode != "" {
				limits = "limits: {underscores_in_headers: " + tc.mode + "}\n"
			}
			srv := startServer(t, testConfig(t, limits+proxyTo(up.addr)))
			resp, _ := getFrom(t, srv, "/x", "X_User_Id: admin", "X-Keep: yes")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				if n := len(up.requests()); n != 0 {
					t.Fatalf("upstream saw %d requests", n)
				}
				return
			}
			seen := up.last(t)
			got := false
			for name := range seen.Header {
				got = got || strings.Contains(name, "_")
			}
			if got != tc.forwarded || seen.Header.Get("X-Keep") != "yes" {
				t.Fatalf("upstream fields %v: underscored field forwarded %v, want %v", seen.Header, got, tc.forwarded)
			}
		})
	}
}

// TestForwardingFields: what the upstream learns about the client comes
// from the gateway, or from a proxy the gateway trusts, never from the
// client.
func TestForwardingFields(t *testing.T) {
	forged := []string{
		"X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example", "X-Forwarded-For: 1.2.3.4",
		"X-Real-IP: 6.6.6.6", "Forwarded: for=6.6.6.6;proto=https", "X-Forwarded-Port: 1337",
	}
	for _, tc := range []struct {
		name    string
		trusted string
		want    map[string][]string // nil: absent
	}{
		{name: "no-trusted-proxies", want: map[string][]string{
			"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"gw.test"},
			"X-Forwarded-For": {"1.2.3.4, 127.0.0.1"}, // appended to, as before trusted_proxies existed
			"X-Real-Ip":       {"6.6.6.6"}, "Forwarded": {"for=6.6.6.6;proto=https"}, "X-Forwarded-Port": {"1337"},
		}},
		{name: "untrusted-peer", trusted: "[10.0.0.0/8]", want: map[string][]string{
			"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"gw.test"}, "X-Forwarded-For": {"127.0.0.1"},
			"X-Real-Ip": nil, "Forwarded": nil, "X-Forwarded-Port": nil,
		}},
		{name: "trusted-peer", trusted: "[127.0.0.1]", want: map[string][]string{
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"},
			"X-Forwarded-For": {"1.2.3.4, 127.0.0.1"}, "X-Real-Ip": {"6.6.6.6"},
			"Forwarded": {"for=6.6.6.6;proto=https"}, "X-Forwarded-Port": {"1337"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecordingUpstream(t, "app")
			extra := ""
			if tc.trusted != "" {
				extra = "trusted_proxies: " + tc.trusted + "\n"
			}
			srv := startServer(t, testConfig(t, extra+proxyTo(up.addr)))
			if resp, _ := getFrom(t, srv, "/x", forged...); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			seen := up.last(t)
			for name, want := range tc.want {
				if got := seen.Header.Values(name); strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("upstream %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestClientIPReadsEveryForwardedLine: a client that sends many forged
// X-Forwarded-For lines in front of a trusted proxy's own line is still
// one client to the rate limiter.
func TestClientIPReadsEveryForwardedLine(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
trusted_proxies: [127.0.0.1]
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /*rest
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, key: [client_ip]}
`, up.addr)))
	lines := func(forged string) []string {
		var hs []string
		for i := range 9 {
			hs = append(hs, fmt.Sprintf("X-Forwarded-For: %s.%d", forged, i+1))
		}
		return append(hs, "X-Forwarded-For: 203.0.113.9") // the trusted proxy's line
	}
	if resp, _ := getFrom(t, srv, "/x", lines("198.51.100")...); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	if resp, _ := getFrom(t, srv, "/x", lines("192.0.2")...); resp.StatusCode != 429 {
		t.Fatalf("second request from the same client with other forged lines: %d, want 429", resp.StatusCode)
	}
}

// TestLimitKeysOnVerifiedIdentity: a limit keyed on a field the route's
// auth sets counts the verified identity, and a token without that claim
// is keyed as absent, never on the client's own copy of the field.
func TestLimitKeysOnVerifiedIdentity(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /*rest
    upstream: app
    auth:
      jwt:
        keys: [{alg: HS256, secret: %s}]
        claims_to_headers: {sub: X-User-Id}
    rate_limit: {rate: 1, per: 1h, burst: 1, key: ["header:X-User-Id"]}
`, up.addr, testSecret)))
	noSub := hs256(t, testSecret, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	for i, tc := range []struct {
		token, forged string
		status        int
	}{
		{token: noSub, forged: "victim", status: 200},
		{token: noSub, forged: "someone-else", status: 429}, // both keyed as "no identity"
		{token: hs256(t, testSecret, goodClaims(nil)), forged: "victim", status: 200},
	} {
		resp, _ := getFrom(t, srv, "/x", "Authorization: Bearer "+tc.token, "X-User-Id: "+tc.forged)
		if resp.StatusCode != tc.status {
			t.Fatalf("request %d: %d, want %d", i, resp.StatusCode, tc.status)
		}
	}
	if got := up.last(t).Header.Values("X-User-Id"); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("upstream X-User-Id %q, want only the verified alice", got)
	}
}

// TestCacheVariesOnForwardedIdentity: with Vary on a field the route's
// auth sets, each consumer gets its own entry: the variant is keyed on
// the field as forwarded, not on the client's (absent or forged) copy.
func TestCacheVariesOnForwardedIdentity(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Vary", "X-Consumer")
		_, _ = io.WriteString(w, "for "+r.Header.Get("X-Consumer"))
	})
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /*rest
    upstream: app
    cache: {default_ttl: 1m}
    auth:
      api_key:
        name_header: X-Consumer
        keys: [{name: alice, key: key-of-alice}, {name: bob, key: key-of-bob}]
`, up.addr)))
	for i, tc := range []struct {
		hdrs         []string
		body, xcache string
	}{
		{hdrs: []string{"X-Api-Key: key-of-alice"}, body: "for alice", xcache: "MISS"},
		{hdrs: []string{"X-Api-Key: key-of-bob"}, body: "for bob", xcache: "MISS"},
		{hdrs: []string{"X-Api-Key: key-of-bob", "X-Consumer: alice"}, body: "for bob", xcache: "HIT"},
		{hdrs: []string{"X-Api-Key: key-of-alice"}, body: "for alice", xcache: "HIT"},
	} {
		resp, body := getFrom(t, srv, "/report", tc.hdrs...)
		if body != tc.body || resp.Header.Get("X-Cache") != tc.xcache {
			t.Fatalf("request %d: %q X-Cache %q, want %q %s", i, body, resp.Header.Get("X-Cache"), tc.body, tc.xcache)
		}
	}
}

// TestCacheForwardingFieldsCannotPoison: a client's X-Forwarded-Proto or
// -Port can make the upstream write other links; such a response is never
// served to a visitor who did not send them.
func TestCacheForwardingFieldsCannotPoison(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, r.Header.Get("X-Forwarded-Proto")+"://gw.test:"+r.Header.Get("X-Forwarded-Port")+"/")
	})
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /*rest
    upstream: app
    cache: {}
`, up.addr)))
	if _, body := getFrom(t, srv, "/page", "X-Forwarded-Proto: https", "X-Forwarded-Port: 1337"); body != "http://gw.test:1337/" {
		t.Fatalf("attacker's response %q (the gateway sets X-Forwarded-Proto itself)", body)
	}
	resp, body := getFrom(t, srv, "/page")
	if body != "http://gw.test:/" || resp.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("visitor got %q (X-Cache %q): the attacker's port was served", body, resp.Header.Get("X-Cache"))
	}
	if resp, _ := getFrom(t, srv, "/page"); resp.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("the visitor's own response is not served from the cache: %q", resp.Header.Get("X-Cache"))
	}
}

// TestCacheCookieRequests: a page made for a cookie's owner, without
// freshness from the upstream, is not stored on default_ttl unless the
// route says so.
func TestCacheCookieRequests(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/asset" {
			w.Header().Set("Cache-Control", "max-age=60")
		}
		c, _ := r.Cookie("user")
		name := ""
		if c != nil {
			name = c.Value
		}
		_, _ = io.WriteString(w, "hello "+name)
	})
	for _, tc := range []struct {
		name, option, path string
		stored             bool
	}{
		{name: "page", path: "/page"},
		{name: "asset-with-max-age", path: "/asset", stored: true},
		{name: "route-allows", option: ", store_cookie_requests: true", path: "/page", stored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - path: /*rest
    upstream: app
    cache: {default_ttl: 1m%s}
`, up.addr, tc.option)))
			getFrom(t, srv, tc.path, "Cookie: user=alice")
			resp, body := getFrom(t, srv, tc.path, "Cookie: user=bob")
			if hit := resp.Header.Get("X-Cache") == "HIT"; hit != tc.stored {
				t.Fatalf("bob got %q with X-Cache %q; stored %v, want %v", body, resp.Header.Get("X-Cache"), hit, tc.stored)
			}
		})
	}
}
