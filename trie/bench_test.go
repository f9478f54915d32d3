package trie

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/julienschmidt/httprouter"
)

// The peers, each on its cheapest lookup-only path:
//   - httprouter v1.3.0: Router.Lookup(method, path), the per-method tree
//     search without ServeHTTP (it allocates the Params slice when the
//     route has parameters: that is its API).
//   - chi v5: Mux.Find(rctx, method, path) with one reused *chi.Context
//     (Reset before each lookup), the tree search that ServeHTTP does,
//     without the handler chain and without building an *http.Request.
// hotpath's Lookup also matches the host (no host routes: one nil check;
// the "hotpath-hosts" variant puts the routes on an exact host next to a
// wildcard and a default one) and checks the path rules.

type benchCase struct {
	name, method, path string
}

type benchSet struct {
	name   string
	routes []testRoute
	cases  []benchCase
}

func benchSets(b *testing.B) []benchSet {
	return []benchSet{
		{name: "github", routes: loadRoutes(b, "github_routes.txt"), cases: []benchCase{
			{"static", "GET", "/user/repos"},
			{"param1", "GET", "/users/julienschmidt/repos"},
			// The GitHub set has no route with five parameters; this is one
			// of its two four-parameter routes, the deeper one.
			{"param5", "DELETE", "/repos/julienschmidt/httprouter/issues/42/labels/bug"},
		}},
		{name: "synthetic10k", routes: synthetic10k(), cases: []benchCase{
			{"static", "GET", "/svc057/res22"},
			{"param1", "GET", "/svc057/items17/12345"},
			{"param5", "GET", "/svc057/deep11/a1/x/b2/y/c3/z/d4/w/e5"},
		}},
	}
}

func chiPattern(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			segs[i] = "{" + s[1:] + "}"
		case strings.HasPrefix(s, "*"):
			segs[i] = "*"
		}
	}
	return strings.Join(segs, "/")
}

func BenchmarkLookup(b *testing.B) {
	for _, set := range benchSets(b) {
		hp := build(b, Options{}, set.routes...)
		var hostRoutes []testRoute
		for _, rt := range set.routes {
			hostRoutes = append(hostRoutes, testRoute{"api.github.com", rt.method, rt.pattern})
		}
		hostRoutes = append(hostRoutes, testRoute{"*.github.com", "GET", "/"}, r("GET", "/"))
		hpHosts := build(b, Options{}, hostRoutes...)

		hr := httprouter.New()
		mx := chi.NewRouter()
		h := func(http.ResponseWriter, *http.Request, httprouter.Params) {}
		ch := func(http.ResponseWriter, *http.Request) {}
		for _, rt := range set.routes {
			hr.Handle(rt.method, rt.pattern, h)
			mx.MethodFunc(rt.method, chiPattern(rt.pattern), ch)
		}

		all := make([]benchCase, 0, len(set.routes))
		for _, rt := range set.routes {
			p, _ := samplePath(rt.pattern)
			all = append(all, benchCase{"all", rt.method, p})
		}
		for _, c := range set.cases {
			cases := []benchCase{c}
			if c.name == "all" {
				cases = all
			}
			b.Run(set.name+"/"+c.name, func(b *testing.B) { benchImpls(b, hp, hpHosts, hr, mx, cases) })
		}
		if set.name == "github" {
			b.Run(set.name+"/all", func(b *testing.B) { benchImpls(b, hp, hpHosts, hr, mx, all) })
		}
	}
}

// benchImpls runs the same lookups on every implementation; one op is one
// pass over cases.
func benchImpls(b *testing.B, hp, hpHosts *Tree[string], hr *httprouter.Router, mx *chi.Mux, cases []benchCase) {
	type bc struct {
		method, path   []byte
		smethod, spath string
	}
	var cs []bc
	for _, c := range cases {
		cs = append(cs, bc{[]byte(c.method), []byte(c.path), c.method, c.path})
	}
	b.Run("hotpath", func(b *testing.B) {
		var m Match[string]
		for _, c := range cs {
			if hp.Lookup(nil, c.method, c.path, &m) != Found {
				b.Fatalf("hotpath: %s %s not found", c.smethod, c.spath)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range cs {
				hp.Lookup(nil, cs[i].method, cs[i].path, &m)
			}
		}
	})
	b.Run("hotpath-hosts", func(b *testing.B) {
		var m Match[string]
		host := []byte("api.github.com:443")
		for _, c := range cs {
			if hpHosts.Lookup(host, c.method, c.path, &m) != Found {
				b.Fatalf("hotpath-hosts: %s %s not found", c.smethod, c.spath)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range cs {
				hpHosts.Lookup(host, cs[i].method, cs[i].path, &m)
			}
		}
	})
	b.Run("httprouter", func(b *testing.B) {
		for _, c := range cs {
			if h, _, _ := hr.Lookup(c.smethod, c.spath); h == nil {
				b.Fatalf("httprouter: %s %s not found", c.smethod, c.spath)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range cs {
				hr.Lookup(cs[i].smethod, cs[i].spath)
			}
		}
	})
	b.Run("chi", func(b *testing.B) {
		rctx := chi.NewRouteContext()
		for _, c := range cs {
			rctx.Reset()
			if mx.Find(rctx, c.smethod, c.spath) == "" {
				b.Fatalf("chi: %s %s not found", c.smethod, c.spath)
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for i := range cs {
				rctx.Reset()
				mx.Find(rctx, cs[i].smethod, cs[i].spath)
			}
		}
	})
}

// BenchmarkLookupOutcomes measures the slow paths: 404, 405, a redirect
// and a bad path, on the GitHub set.
func BenchmarkLookupOutcomes(b *testing.B) {
	routes := loadRoutes(b, "github_routes.txt")
	tr := build(b, Options{TrailingSlash: TrailingSlashRedirect}, routes...)
	for _, c := range []struct {
		name, method, path string
		want               Result
	}{
		{"notfound", "GET", "/repos/julienschmidt/httprouter/nope", NotFound},
		{"methodnotallowed", "PATCH", "/user/repos", MethodNotAllowed},
		{"redirect", "GET", "/user/repos/", RedirectSlash},
		{"badpath", "GET", "/repos/a/../user/repos", BadPath},
	} {
		b.Run(c.name, func(b *testing.B) {
			var m Match[string]
			method, path := []byte(c.method), []byte(c.path)
			if got := tr.Lookup(nil, method, path, &m); got != c.want {
				b.Fatalf("Lookup = %v, want %v", got, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				tr.Lookup(nil, method, path, &m)
			}
		})
	}
}
