package engine

import (
	"net/http"
	"testing"
)

// TestVaryOnMissAsOnHit: on a route that caches and compresses, a response
// the gateway did not compress (too short to) still says Vary:
// Accept-Encoding when it comes from the upstream (MISS), as it does when
// it comes from the cache (HIT): a downstream cache must not serve it to
// clients with other codings either way.
func TestVaryOnMissAsOnHit(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte("short"))
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - path: /*p
    upstream: app
    cache: {}
    compression: {}
`)))
	cl := newClient(t, srv)
	for _, want := range []string{"MISS", "HIT"} {
		var resp *http.Response
		eventually(t, 5e9, func() bool {
			resp, _ = cl.get("/v", "Accept-Encoding: gzip")
			return want == "MISS" || resp.Header.Get("X-Cache") == "HIT"
		}, "no cache hit")
		if got := resp.Header.Get("X-Cache"); got != want {
			t.Fatalf("X-Cache %q, want %q", got, want)
		}
		if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: a 5-byte body was compressed", want)
		}
		if v := resp.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding" {
			t.Errorf("%s: Vary %q, want [Accept-Encoding]", want, v)
		}
	}
}
