package trie

import (
	"bytes"
	"testing"
)

// FuzzLookup checks the lookup invariants on arbitrary paths: no panic, a
// Found path obeys the path rules, and parameter values are sub-slices of
// the path that hold no '/' (catch-alls excepted).
func FuzzLookup(f *testing.F) {
	routes := append(loadRoutes(f, "github_routes.txt"),
		r("GET", "/static/*path"),
		r("GET", "/a/:x/c"),
		r("GET", "/a/b/d"),
		r("*", "/any/:id/*rest"),
	)
	trees := []*Tree[string]{
		build(f, Options{}, routes...),
		build(f, Options{TrailingSlash: TrailingSlashRedirect}, routes...),
		build(f, Options{TrailingSlash: TrailingSlashIgnore}, routes...),
	}
	for _, s := range []string{"/", "/user/repos", "/a/b/c", "/static/../x", "/users/%2e%2e", "/any/%2F/a%zz", "/user/repos/", "//", "*"} {
		f.Add("GET", s)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		p := []byte(path)
		for _, tr := range trees {
			var m Match[string]
			res := tr.Lookup(nil, []byte(method), p, &m)
			if res != Found && res != RedirectSlash {
				if m.Params.N != 0 || m.Pattern != "" {
					t.Fatalf("%v with params %d pattern %q", res, m.Params.N, m.Pattern)
				}
				continue
			}
			if !pathOK(p) {
				t.Fatalf("%q routed (%v to %q) but breaks the path rules", path, res, m.Pattern)
			}
			for i := 0; i < m.Params.N; i++ {
				v := m.Params.Arr[i].Value
				if len(v) > 0 && !bytes.Contains(p, v) {
					t.Fatalf("param %q=%q not in path %q", m.Params.Arr[i].Key, v, path)
				}
				if m.Params.Arr[i].Key != "path" && m.Params.Arr[i].Key != "rest" && bytes.IndexByte(v, '/') >= 0 {
					t.Fatalf("param %q=%q holds a '/'", m.Params.Arr[i].Key, v)
				}
			}
		}
	})
}
