package trie

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// loadRoutes reads a "METHOD /path" file from testdata.
func loadRoutes(t testing.TB, name string) []testRoute {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var routes []testRoute
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		method, pattern, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", name, line)
		}
		routes = append(routes, testRoute{"", method, pattern})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return routes
}

// synthetic10k is a generated set of 10 000 routes in 100 services: per
// service 40 static routes (one in four POST), 30 one-parameter routes and
// 30 five-parameter routes. It has no static and parameter siblings, so that
// httprouter accepts it too.
func synthetic10k() []testRoute {
	var routes []testRoute
	for s := 0; s < 100; s++ {
		for i := 0; i < 40; i++ {
			m := "GET"
			if i%4 == 3 {
				m = "POST"
			}
			routes = append(routes, r(m, fmt.Sprintf("/svc%03d/res%02d", s, i)))
		}
		for i := 0; i < 30; i++ {
			routes = append(routes, r("GET", fmt.Sprintf("/svc%03d/items%02d/:id", s, i)))
		}
		for i := 0; i < 30; i++ {
			routes = append(routes, r("GET", fmt.Sprintf("/svc%03d/deep%02d/:a/x/:b/y/:c/z/:d/w/:e", s, i)))
		}
	}
	return routes
}

// samplePath fills a pattern's parameters with "<name>-v" (a catch-all
// with "<name>/rest") and returns the path and the expected params.
func samplePath(pattern string) (path, params string) {
	segs := strings.Split(pattern, "/")
	var ps []string
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			segs[i] = s[1:] + "-v"
			ps = append(ps, s[1:]+"="+segs[i])
		case strings.HasPrefix(s, "*"):
			segs[i] = s[1:] + "/rest"
			ps = append(ps, s[1:]+"="+segs[i])
		}
	}
	return strings.Join(segs, "/"), strings.Join(ps, ",")
}

func TestGitHubRoutes(t *testing.T) {
	routes := loadRoutes(t, "github_routes.txt")
	if len(routes) != 203 {
		t.Fatalf("github_routes.txt has %d routes, want 203", len(routes))
	}
	for _, policy := range []TrailingSlashPolicy{TrailingSlashStrict, TrailingSlashRedirect} {
		tr := build(t, Options{TrailingSlash: policy}, routes...)
		for _, rt := range routes {
			path, params := samplePath(rt.pattern)
			checkLookup(t, tr, lookupCase{method: rt.method, path: path, want: Found,
				pattern: rt.pattern, value: " " + rt.method + " " + rt.pattern, params: params})
		}
	}
}

func TestSyntheticRoutes(t *testing.T) {
	routes := synthetic10k()
	tr := build(t, Options{}, routes...)
	for _, rt := range routes {
		path, params := samplePath(rt.pattern)
		checkLookup(t, tr, lookupCase{method: rt.method, path: path, want: Found,
			pattern: rt.pattern, value: " " + rt.method + " " + rt.pattern, params: params})
	}
}

func TestLookupAllocs(t *testing.T) {
	tr := build(t, Options{TrailingSlash: TrailingSlashRedirect},
		r("GET", "/users"),
		r("GET", "/users/:id/posts/:post"),
		r("GET", "/static/*path"),
		testRoute{"*.example.com", "GET", "/w/:id"},
	)
	var m Match[string]
	for _, tc := range []struct {
		name, host, method, path string
		want                     Result
	}{
		{"static", "", "GET", "/users", Found},
		{"params", "", "GET", "/users/42/posts/7", Found},
		{"catch-all", "", "GET", "/static/js/app.js", Found},
		{"not found", "", "GET", "/nope", NotFound},
		{"method not allowed", "", "DELETE", "/users", MethodNotAllowed},
		{"redirect slash", "", "GET", "/users/", RedirectSlash},
		{"bad path", "", "GET", "/static/../x", BadPath},
		{"bad escape", "", "GET", "/users/%zz/posts/1", BadPath},
		{"wildcard host upper case with port", "API.Example.COM:443", "GET", "/w/1", Found},
	} {
		host, method, path := []byte(tc.host), []byte(tc.method), []byte(tc.path)
		if got := tr.Lookup(host, method, path, &m); got != tc.want {
			t.Fatalf("%s: Lookup = %v, want %v", tc.name, got, tc.want)
		}
		if n := testing.AllocsPerRun(100, func() { tr.Lookup(host, method, path, &m) }); n != 0 {
			t.Errorf("%s: Lookup allocates %v times, want 0", tc.name, n)
		}
	}
}

// TestConcurrentLookups runs lookups from several goroutines while another
// swaps in freshly built trees, as a reload does; run it with -race.
func TestConcurrentLookups(t *testing.T) {
	routes := loadRoutes(t, "github_routes.txt")
	var cur atomic.Pointer[Tree[string]]
	cur.Store(build(t, Options{}, routes...))
	type req struct{ method, path, pattern, params string }
	var reqs []req
	for _, rt := range routes {
		p, ps := samplePath(rt.pattern)
		reqs = append(reqs, req{rt.method, p, rt.pattern, ps})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m Match[string]
			for i := 0; i < 20; i++ {
				tr := cur.Load()
				for _, q := range reqs {
					res := tr.Lookup(nil, []byte(q.method), []byte(q.path), &m)
					var ps []string
					for j := 0; j < m.Params.N; j++ {
						ps = append(ps, m.Params.Arr[j].Key+"="+string(m.Params.Arr[j].Value))
					}
					if res != Found || m.Pattern != q.pattern || strings.Join(ps, ",") != q.params {
						select {
						case errs <- fmt.Sprintf("%s %s: %v %q %v", q.method, q.path, res, m.Pattern, ps):
						default:
						}
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		cur.Store(build(t, Options{}, routes...))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
