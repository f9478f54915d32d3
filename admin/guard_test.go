package admin

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// call sends method path to the server at addr with the given Host and
// extra header fields, and returns the status.
func call(t *testing.T, addr, method, path, host string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Without a token, the admin API still refuses what a browser can be made
// to send: a name that is not this listener's (DNS rebinding) and a
// cross-site request (a form POSTed to /reload). Scrapers and probes, which
// send neither, keep working whatever Host they use.
func TestBrowserGuard(t *testing.T) {
	var reloads atomic.Int32
	s := start(t, Options{
		AllowedHosts: []string{"Admin.Internal"},
		Config:       func() ([]byte, string) { return []byte("x: 1\n"), "application/yaml" },
		Reload:       func() error { reloads.Add(1); return nil },
	})
	addr := s.Addr()
	_, port, _ := net.SplitHostPort(addr)
	self := "http://" + addr
	tests := []struct {
		name   string
		method string
		path   string
		host   string // "" = the listener's address
		hdr    map[string]string
		want   int
	}{
		{name: "loopback address", method: "GET", path: "/config", want: 200},
		{name: "localhost", method: "GET", path: "/config", host: "localhost:" + port, want: 200},
		{name: "localhost without port", method: "GET", path: "/config", host: "localhost", want: 200},
		{name: "ipv6 loopback", method: "GET", path: "/config", host: "[::1]:" + port, want: 200},
		{name: "an ip address", method: "GET", path: "/config", host: "10.1.2.3:" + port, want: 200},
		{name: "allowed host", method: "GET", path: "/config", host: "admin.internal:" + port, want: 200},
		{name: "allowed host case", method: "GET", path: "/config", host: "ADMIN.INTERNAL", want: 200},
		{name: "rebinding name", method: "GET", path: "/config", host: "attacker.example:" + port, want: 403},
		{name: "rebinding name reload", method: "POST", path: "/reload", host: "attacker.example", want: 403},
		{name: "rebinding name pprof", method: "GET", path: "/debug/pprof/", host: "attacker.example", want: 403},
		{name: "name ending like localhost", method: "GET", path: "/config", host: "evil-localhost", want: 403},
		{name: "suffix of an allowed host", method: "GET", path: "/config", host: "x.admin.internal", want: 403},
		{name: "cross-site form", method: "POST", path: "/reload", hdr: map[string]string{"Origin": "https://attacker.example"}, want: 403},
		{name: "opaque origin", method: "POST", path: "/reload", hdr: map[string]string{"Origin": "null"}, want: 403},
		{name: "another port of loopback", method: "POST", path: "/reload", hdr: map[string]string{"Origin": "http://127.0.0.1:1"}, want: 403},
		{name: "cross-site fetch metadata", method: "POST", path: "/cache/purge", hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403},
		{name: "same-site fetch metadata", method: "GET", path: "/debug/pprof/", hdr: map[string]string{"Sec-Fetch-Site": "same-site"}, want: 403},
		{name: "same origin", method: "POST", path: "/reload", hdr: map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}, want: 200},
		{name: "typed in the address bar", method: "GET", path: "/config", hdr: map[string]string{"Sec-Fetch-Site": "none"}, want: 200},
		{name: "reload by GET", method: "GET", path: "/reload", want: 405},
		{name: "purge by GET", method: "GET", path: "/cache/purge", want: 405},
		{name: "rates by GET are read-only", method: "GET", path: "/debug/pprof/rates?mutex=5", want: 200},
		// Scrapers and probes: any Host, and a browser can read nothing
		// from them cross-origin.
		{name: "metrics by a hostname", method: "GET", path: "/metrics", host: "node7.dc1:" + port, want: 200},
		{name: "healthz by a hostname", method: "GET", path: "/healthz", host: "node7.dc1", want: 200},
		{name: "readyz by a hostname", method: "GET", path: "/readyz", host: "node7.dc1", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := reloads.Load()
			if got := call(t, addr, tc.method, tc.path, tc.host, tc.hdr); got != tc.want {
				t.Fatalf("%s %s (Host %q, %v) = %d, want %d", tc.method, tc.path, tc.host, tc.hdr, got, tc.want)
			}
			if tc.want == 403 && reloads.Load() != before {
				t.Fatal("a refused request reloaded the config")
			}
		})
	}
}

// The listener's own host name is allowed; with a token the guard still
// answers first.
func TestBrowserGuardListenNameAndToken(t *testing.T) {
	s := start(t, Options{Addr: "localhost:0", Token: "s3cret-admin-token-0123"})
	addr := s.Addr()
	if got := call(t, addr, "GET", "/config", "attacker.example", map[string]string{"Authorization": "Bearer s3cret-admin-token-0123"}); got != 403 {
		t.Errorf("rebinding name with the token = %d, want 403", got)
	}
	if got := call(t, addr, "GET", "/debug/pprof/", "", map[string]string{"Authorization": "Bearer s3cret-admin-token-0123"}); got != 200 {
		t.Errorf("with the token = %d, want 200", got)
	}

	named := &Server{opts: Options{Addr: "admin.example.net:9901"}}
	named.allowHosts()
	for host, want := range map[string]bool{
		"admin.example.net:9901": true, "admin.example.net": true, "Admin.Example.Net.": true,
		"other.example.net": false, "": false, "*": false,
	} {
		if got := named.hostAllowed(host); got != want {
			t.Errorf("hostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
	any := &Server{opts: Options{AllowedHosts: []string{"*"}}}
	any.allowHosts()
	if !any.hostAllowed("whatever.example") {
		t.Error(`allowed_hosts ["*"] refused a name`)
	}
}
