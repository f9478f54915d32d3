package engine

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// corsUpstream answers every request itself with its own
// Access-Control-Allow-Origin (which a CORS route must not pass on),
// counting them by method.
type corsUpstream struct {
	*httpUpstream
	options, gets atomic.Int64
}

func newCORSUpstream(t *testing.T) *corsUpstream {
	u := &corsUpstream{}
	u.httpUpstream = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "OPTIONS":
			u.options.Add(1)
		case "GET":
			u.gets.Add(1)
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("X-Total", "7")
		_, _ = io.WriteString(w, "ok")
	})
	return u
}

// TestCORS: preflights are answered by the gateway (204 or 403), routed
// by the method they ask about even when the route does not list
// OPTIONS, and never forwarded; every response of a CORS route carries the
// CORS fields for its own request's origin and Vary: Origin, whether the
// upstream, the cache or the gateway made it; the upstream's own
// Access-Control-* fields are dropped.
func TestCORS(t *testing.T) {
	up := newCORSUpstream(t)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - name: api
    path: /api/*rest
    methods: [GET, PUT]
    upstream: app
    cors:
      allow_origins: ["https://app.test", "https://*.example.net"]
      allow_methods: [GET, PUT]
      allow_headers: [Content-Type, X-Api-Key]
      expose_headers: [X-Total]
      allow_credentials: true
      max_age: 10m
  - name: cached
    path: /cached/*rest
    upstream: app
    cache: {}
    cors: {allow_origins: ["*"]}
  - name: limited
    path: /limited
    upstream: app
    rate_limit: {rate: 1, per: 1h, burst: 1, key: [route]}
    request_id: true
    cors: {allow_origins: ["https://app.test"]}
  - name: plain
    path: /*rest
    upstream: app
`, up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	do := func(method, path string, fields ...string) *http.Response {
		t.Helper()
		raw := method + " " + path + " HTTP/1.1\r\nHost: x\r\n"
		for _, f := range fields {
			raw += f + "\r\n"
		}
		resp := roundTrip(t, c, br, raw+"\r\n", method)
		readBody(t, resp)
		if resp.Close {
			t.Fatalf("%s %s: the connection closes", method, path)
		}
		return resp
	}
	check := func(name string, resp *http.Response, status int, want map[string]string) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, status)
		}
		for k, v := range want {
			got := strings.Join(resp.Header.Values(k), " | ")
			if got != v {
				t.Errorf("%s: %s = %q, want %q", name, k, got, v)
			}
		}
	}

	resp := do("OPTIONS", "/api/users", "Origin: https://x.example.net", "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: content-type, x-api-key")
	check("preflight", resp, 204, map[string]string{
		"Access-Control-Allow-Origin":      "https://x.example.net",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET, PUT",
		"Access-Control-Allow-Headers":     "content-type, x-api-key",
		"Access-Control-Max-Age":           "600",
		"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
		"Content-Length":                   "",
	})
	resp = do("OPTIONS", "/api/users", "Origin: https://evil.test", "Access-Control-Request-Method: PUT")
	check("preflight-origin-refused", resp, 403, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"})
	resp = do("OPTIONS", "/api/users", "Origin: https://app.test", "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: x-secret")
	check("preflight-header-refused", resp, 403, map[string]string{"Access-Control-Allow-Methods": ""})
	resp = do("OPTIONS", "/limited", "Origin: https://app.test", "Access-Control-Request-Method: PATCH")
	check("preflight-method-refused", resp, 403, nil)
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("a refused preflight has no X-Request-Id on a request_id route")
	}
	if up.options.Load() != 0 {
		t.Fatalf("%d preflights reached the upstream", up.options.Load())
	}
	// A preflight goes where its actual request would: DELETE /api/users
	// is the catch-all's, which has no cors section, so its upstream
	// answers the preflight.
	resp = do("OPTIONS", "/api/users", "Origin: https://app.test", "Access-Control-Request-Method: DELETE")
	check("preflight-of-a-route-without-cors", resp, 200, map[string]string{"Access-Control-Allow-Origin": "*"})
	// A plain OPTIONS (no Access-Control-Request-Method) is routed as usual.
	resp = do("OPTIONS", "/other", "Origin: https://app.test")
	check("plain-options", resp, 200, nil)
	if up.options.Load() != 2 {
		t.Fatalf("%d OPTIONS forwarded, want 2", up.options.Load())
	}

	resp = do("GET", "/api/users", "Origin: https://app.test")
	check("actual", resp, 200, map[string]string{
		"Access-Control-Allow-Origin":      "https://app.test",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Expose-Headers":    "X-Total",
		"Vary":                             "Origin",
	})
	resp = do("GET", "/api/users", "Origin: https://evil.test")
	check("actual-refused-origin", resp, 200, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"})
	resp = do("GET", "/api/users")
	check("actual-no-origin", resp, 200, map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"})
	resp = do("GET", "/plain")
	check("route-without-cors", resp, 200, map[string]string{"Access-Control-Allow-Origin": "*", "Vary": ""})

	// The cache: one upstream fetch, each hit answered for its own origin.
	gets := up.gets.Load()
	resp = do("GET", "/cached/a", "Origin: https://one.test")
	check("cache-miss", resp, 200, map[string]string{"Access-Control-Allow-Origin": "*"})
	resp = do("GET", "/cached/a", "Origin: https://two.test")
	check("cache-hit", resp, 200, map[string]string{"Access-Control-Allow-Origin": "*", "X-Cache": "HIT"})
	if n := up.gets.Load() - gets; n != 1 {
		t.Fatalf("%d upstream fetches for two requests of a cached URL", n)
	}

	// A response the gateway makes itself: 429 from the rate limit.
	resp = do("GET", "/limited", "Origin: https://app.test")
	check("limited-first", resp, 200, map[string]string{"Access-Control-Allow-Origin": "https://app.test"})
	resp = do("GET", "/limited", "Origin: https://app.test")
	check("limited-429", resp, 429, map[string]string{"Access-Control-Allow-Origin": "https://app.test", "Vary": "Origin"})

	waitMetrics(t, srv, []metricWant{
		{"hotpath_cors_preflights_total", []string{"result", "allowed"}, 1},
		{"hotpath_cors_preflights_total", []string{"result", "refused"}, 3},
	})
}

// TestCORSCachedVariesPerOrigin: with listed origins, a cached response
// answers each origin for itself: the one stored never leaks its origin.
func TestCORSCachedVariesPerOrigin(t *testing.T) {
	up := newCORSUpstream(t)
	srv := startServer(t, testConfig(t, proxyTo(up.addr)+`    cache: {}
    cors: {allow_origins: ["https://a.test", "https://b.test"]}
`))
	cl := httpClient(t)
	get := func(origin string) *http.Response {
		req, _ := http.NewRequest("GET", "http://"+srv.Addr()+"/page", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	for _, tc := range []struct{ origin, want string }{
		{"https://a.test", "https://a.test"},
		{"https://b.test", "https://b.test"},
		{"https://c.test", ""},
		{"", ""},
	} {
		resp := get(tc.origin)
		if got := resp.Header.Values("Access-Control-Allow-Origin"); strings.Join(got, ",") != tc.want || resp.Header.Get("Vary") != "Origin" {
			t.Errorf("origin %q: Access-Control-Allow-Origin %q, Vary %q; want %q and Origin", tc.origin, got, resp.Header.Get("Vary"), tc.want)
		}
	}
	if n := up.gets.Load(); n != 1 {
		t.Fatalf("%d upstream fetches, want 1 (the rest from the cache)", n)
	}
}

// TestCORSConfigErrors: origins and names are checked when the config is
// compiled, with the field at fault.
func TestCORSConfigErrors(t *testing.T) {
	cfg := testConfig(t, `
routes:
  - path: /a
    direct: {body: a}
    cors:
      allow_origins: ["https://a.test", "https://a.test/path", "*"]
      allow_credentials: true
`)
	err := Check(cfg)
	if err == nil || !strings.Contains(err.Error(), "routes[0].cors.allow_origins[1]: want an origin") {
		t.Fatalf("Check: %v", err)
	}
	cfg = testConfig(t, `
routes:
  - path: /a
    direct: {body: a}
    cors: {allow_origins: ["*"], allow_credentials: true}
`)
	if err := Check(cfg); err == nil || !strings.Contains(err.Error(), `routes[0].cors.allow_origins[0]: "*" cannot be used with allow_credentials`) {
		t.Fatalf("Check: %v", err)
	}
}
