package trie

import (
	"errors"
	"strings"
	"testing"
)

type testRoute struct{ host, method, pattern string }

// build returns a tree whose values are "HOST METHOD PATTERN".
func build(t testing.TB, opts Options, routes ...testRoute) *Tree[string] {
	t.Helper()
	b := NewBuilder[string](opts)
	for _, r := range routes {
		if err := b.Add(r.host, r.method, r.pattern, r.host+" "+r.method+" "+r.pattern); err != nil {
			t.Fatalf("Add(%q, %q, %q): %v", r.host, r.method, r.pattern, err)
		}
	}
	tr, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return tr
}

func r(method, pattern string) testRoute { return testRoute{"", method, pattern} }

type lookupCase struct {
	name    string
	host    string
	method  string
	path    string
	want    Result
	pattern string // on Found and RedirectSlash
	value   string // when set, the expected Value
	params  string // "k=v,k=v"
	allow   string // on MethodNotAllowed
}

func checkLookup(t *testing.T, tr *Tree[string], tc lookupCase) {
	t.Helper()
	var m Match[string]
	m.Params.N = 3 // stale state from a previous lookup must be reset
	m.Allow = "stale"
	method := tc.method
	if method == "" {
		method = "GET"
	}
	got := tr.Lookup([]byte(tc.host), []byte(method), []byte(tc.path), &m)
	if got != tc.want {
		t.Fatalf("Lookup(%q, %q, %q) = %v, want %v (pattern %q)", tc.host, method, tc.path, got, tc.want, m.Pattern)
	}
	if m.Pattern != tc.pattern {
		t.Errorf("Pattern = %q, want %q", m.Pattern, tc.pattern)
	}
	if tc.value != "" && m.Value != tc.value {
		t.Errorf("Value = %q, want %q", m.Value, tc.value)
	}
	var ps []string
	for i := 0; i < m.Params.N; i++ {
		ps = append(ps, m.Params.Arr[i].Key+"="+string(m.Params.Arr[i].Value))
	}
	if p := strings.Join(ps, ","); p != tc.params {
		t.Errorf("Params = %q, want %q", p, tc.params)
	}
	if m.Allow != tc.allow {
		t.Errorf("Allow = %q, want %q", m.Allow, tc.allow)
	}
}

func TestLookupSegments(t *testing.T) {
	tr := build(t, Options{},
		r("GET", "/"),
		r("GET", "/users"),
		r("GET", "/users/:id"),
		r("POST", "/users/:id"),
		r("GET", "/users/:id/posts/:post"),
		r("GET", "/users/new"),
		r("GET", "/static/*path"),
		r("GET", "/a/:x/c"),
		r("GET", "/a/b/d"),
		r("GET", "/files/:name"),
		r("POST", "/files/upload"),
		r("GET", "/mix/:p"),
		r("GET", "/mix/*rest"),
		r("GET", "/v1/items:batch"),
		r("*", "/any"),
		r("PUT", "/any"),
		r("PROPFIND", "/dav/:file"),
		r("HEAD", "/head"),
		r("GET", "/head"),
	)
	for _, tc := range []lookupCase{
		{name: "root", path: "/", want: Found, pattern: "/"},
		{name: "static", path: "/users", want: Found, pattern: "/users"},
		{name: "static beats param", path: "/users/new", want: Found, pattern: "/users/new"},
		{name: "param", path: "/users/42", want: Found, pattern: "/users/:id", params: "id=42"},
		{name: "param prefix of static", path: "/users/newer", want: Found, pattern: "/users/:id", params: "id=newer"},
		{name: "param post method", method: "POST", path: "/users/42", want: Found, pattern: "/users/:id", value: " POST /users/:id", params: "id=42"},
		{name: "two params", path: "/users/42/posts/7", want: Found, pattern: "/users/:id/posts/:post", params: "id=42,post=7"},
		{name: "catch-all", path: "/static/css/a.css", want: Found, pattern: "/static/*path", params: "path=css/a.css"},
		{name: "catch-all empty", path: "/static/", want: Found, pattern: "/static/*path", params: "path="},
		{name: "backtrack static to param", path: "/a/b/c", want: Found, pattern: "/a/:x/c", params: "x=b"},
		{name: "static after backtrack", path: "/a/b/d", want: Found, pattern: "/a/b/d"},
		{name: "method-aware fallback to param", path: "/files/upload", want: Found, pattern: "/files/:name", params: "name=upload"},
		{name: "method-aware static", method: "POST", path: "/files/upload", want: Found, pattern: "/files/upload"},
		{name: "param beats catch-all", path: "/mix/x", want: Found, pattern: "/mix/:p", params: "p=x"},
		{name: "catch-all after param fails", path: "/mix/x/y", want: Found, pattern: "/mix/*rest", params: "rest=x/y"},
		{name: "colon inside static", path: "/v1/items:batch", want: Found, pattern: "/v1/items:batch"},
		{name: "star method", method: "DELETE", path: "/any", want: Found, value: " * /any", pattern: "/any"},
		{name: "star method unknown method", method: "BREW", path: "/any", want: Found, value: " * /any", pattern: "/any"},
		{name: "explicit beats star", method: "PUT", path: "/any", want: Found, value: " PUT /any", pattern: "/any"},
		{name: "extension method", method: "PROPFIND", path: "/dav/x", want: Found, pattern: "/dav/:file", params: "file=x"},
		{name: "HEAD from GET", method: "HEAD", path: "/users", want: Found, value: " GET /users", pattern: "/users"},
		{name: "HEAD registered", method: "HEAD", path: "/head", want: Found, value: " HEAD /head", pattern: "/head"},
		{name: "lower-case method", method: "get", path: "/users", want: MethodNotAllowed, allow: "GET, HEAD"},
		{name: "405", method: "DELETE", path: "/users/42", want: MethodNotAllowed, allow: "GET, HEAD, POST"},
		{name: "405 extension", method: "GET", path: "/dav/x", want: MethodNotAllowed, allow: "PROPFIND"},
		{name: "404", path: "/nope", want: NotFound},
		{name: "404 partial static", path: "/user", want: NotFound},
		{name: "404 deeper", path: "/users/42/posts", want: NotFound},
		{name: "strict trailing slash", path: "/users/", want: NotFound},
		{name: "strict no slash for catch-all", path: "/static", want: NotFound},
		{name: "empty param is no match", path: "/users//posts/7", want: BadPath},
		{name: "options star", method: "OPTIONS", path: "*", want: NotFound},
		{name: "relative path", path: "users", want: BadPath},
		{name: "empty path", path: "", want: BadPath},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLookup(t, tr, tc) })
	}
}

func TestLookupTrailingSlash(t *testing.T) {
	routes := []testRoute{
		r("GET", "/users"),
		r("GET", "/dir/"),
		r("GET", "/users/:id"),
		r("GET", "/static/*path"),
		r("GET", "/both"),
		r("POST", "/both/"),
		r("GET", "/c/:x"),
		r("GET", "/c/*rest"),
	}
	type want struct {
		res     Result
		pattern string
		params  string
		allow   string
	}
	cases := []struct {
		name, method, path string
		strict, redirect   want
	}{
		{name: "add slash", path: "/users/",
			strict: want{res: NotFound}, redirect: want{res: RedirectSlash, pattern: "/users"}},
		{name: "remove slash", path: "/dir",
			strict: want{res: NotFound}, redirect: want{res: RedirectSlash, pattern: "/dir/"}},
		{name: "param with slash", path: "/users/7/",
			strict: want{res: NotFound}, redirect: want{res: RedirectSlash, pattern: "/users/:id", params: "id=7"}},
		{name: "catch-all without slash", path: "/static",
			strict: want{res: NotFound}, redirect: want{res: RedirectSlash, pattern: "/static/*path"}},
		{name: "exact wins", path: "/users", strict: want{res: Found, pattern: "/users"}, redirect: want{res: Found, pattern: "/users"}},
		{name: "real route for other method", method: "POST", path: "/both/",
			strict: want{res: Found, pattern: "/both/"}, redirect: want{res: Found, pattern: "/both/"}},
		{name: "alias for method of sibling", path: "/both/",
			strict: want{res: MethodNotAllowed, allow: "POST"}, redirect: want{res: RedirectSlash, pattern: "/both"}},
		{name: "real catch-all beats alias", path: "/c/x/",
			strict: want{res: Found, pattern: "/c/*rest", params: "rest=x/"}, redirect: want{res: Found, pattern: "/c/*rest", params: "rest=x/"}},
		{name: "alias method not allowed", method: "DELETE", path: "/users/",
			strict: want{res: NotFound}, redirect: want{res: MethodNotAllowed, allow: "GET, HEAD"}},
		{name: "root has no alias", path: "//", strict: want{res: BadPath}, redirect: want{res: BadPath}},
	}
	for _, policy := range []TrailingSlashPolicy{TrailingSlashStrict, TrailingSlashRedirect, TrailingSlashIgnore} {
		tr := build(t, Options{TrailingSlash: policy}, routes...)
		for _, c := range cases {
			w := c.redirect
			if policy == TrailingSlashStrict {
				w = c.strict
			}
			if policy == TrailingSlashIgnore && w.res == RedirectSlash {
				w.res = Found
			}
			name := []string{"strict", "redirect", "ignore"}[policy] + "/" + c.name
			t.Run(name, func(t *testing.T) {
				checkLookup(t, tr, lookupCase{method: c.method, path: c.path, want: w.res, pattern: w.pattern, params: w.params, allow: w.allow})
			})
		}
	}
}

func TestLookupHosts(t *testing.T) {
	tr := build(t, Options{},
		testRoute{"", "GET", "/"},
		testRoute{"", "GET", "/only-default"},
		testRoute{"api.example.com", "GET", "/"},
		testRoute{"*.example.com", "GET", "/"},
		testRoute{"*.eu.example.com", "GET", "/"},
		testRoute{"[::1]", "GET", "/"},
		testRoute{"Upper.Example.ORG.", "GET", "/"},
	)
	for _, tc := range []struct{ name, host, value string }{
		{"exact", "api.example.com", "api.example.com GET /"},
		{"exact with port", "api.example.com:8443", "api.example.com GET /"},
		{"exact upper case", "API.Example.COM", "api.example.com GET /"},
		{"exact trailing dot", "api.example.com.", "api.example.com GET /"},
		{"wildcard one label", "www.example.com", "*.example.com GET /"},
		{"wildcard two labels", "a.b.example.com", "*.example.com GET /"},
		{"longest wildcard", "x.eu.example.com", "*.eu.example.com GET /"},
		{"longest wildcard deep", "y.x.eu.example.com:80", "*.eu.example.com GET /"},
		{"wildcard suffix itself", "eu.example.com", "*.example.com GET /"},
		{"wildcard needs a label", "example.com", " GET /"},
		{"not a label boundary", "badexample.com", " GET /"},
		{"ipv6", "[::1]:8080", "[::1] GET /"},
		{"registered upper case", "upper.example.org", "Upper.Example.ORG. GET /"},
		{"unknown host", "other.org", " GET /"},
		{"no host", "", " GET /"},
		{"too long", strings.Repeat("a", 300) + ".example.com", " GET /"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLookup(t, tr, lookupCase{host: tc.host, path: "/", want: Found, pattern: "/", value: tc.value})
		})
	}
	t.Run("no fallback to default", func(t *testing.T) {
		checkLookup(t, tr, lookupCase{host: "api.example.com", path: "/only-default", want: NotFound})
	})
	t.Run("default for unknown host", func(t *testing.T) {
		checkLookup(t, tr, lookupCase{host: "other.org", path: "/only-default", want: Found, pattern: "/only-default"})
	})
}

func TestLookupPathRules(t *testing.T) {
	tr := build(t, Options{TrailingSlash: TrailingSlashRedirect},
		r("GET", "/admin"),
		r("GET", "/users/:id"),
		r("GET", "/users/:id/posts"),
		r("GET", "/static/*path"),
		r("GET", "/a/b"),
	)
	for _, tc := range []lookupCase{
		{name: "encoded slash stays in param", path: "/users/a%2Fb", want: Found, pattern: "/users/:id", params: "id=a%2Fb"},
		{name: "encoded slash stays in catch-all", path: "/static/a%2F..%2Fb", want: Found, pattern: "/static/*path", params: "path=a%2F..%2Fb"},
		{name: "encoded reserved in param", path: "/users/a%3Fb%20c", want: Found, pattern: "/users/:id", params: "id=a%3Fb%20c"},
		{name: "double encoding not decoded", path: "/users/%252e%252e", want: Found, pattern: "/users/:id", params: "id=%252e%252e"},
		{name: "dots inside a segment", path: "/users/a..b", want: Found, pattern: "/users/:id", params: "id=a..b"},
		{name: "dot-prefixed name", path: "/static/.well-known/x", want: Found, pattern: "/static/*path", params: "path=.well-known/x"},
		{name: "encoded unreserved in static", path: "/%61dmin", want: BadPath},
		{name: "encoded unreserved in param", path: "/users/%7Ejohn", want: BadPath},
		{name: "encoded dot dot", path: "/static/%2e%2e/admin", want: BadPath},
		{name: "encoded dot dot upper", path: "/users/%2E%2E", want: BadPath},
		{name: "mixed encoded dot", path: "/users/.%2e/posts", want: BadPath},
		{name: "encoded nul", path: "/users/a%00", want: BadPath},
		{name: "malformed escape", path: "/users/%zz", want: BadPath},
		{name: "truncated escape", path: "/users/%4", want: BadPath},
		{name: "truncated escape at end", path: "/users/a%", want: BadPath},
		{name: "malformed escape in miss", path: "/nope/%zz", want: BadPath},
		{name: "dot dot in catch-all", path: "/static/../admin", want: BadPath},
		{name: "dot in catch-all", path: "/static/./x", want: BadPath},
		{name: "dot dot as param", path: "/users/..", want: BadPath},
		{name: "dot as param", path: "/users/./posts", want: BadPath},
		{name: "dot dot above root", path: "/../admin", want: BadPath},
		{name: "dot dot at end", path: "/a/b/..", want: BadPath},
		{name: "dot dot in static position", path: "/a/../admin", want: BadPath},
		{name: "double slash", path: "//admin", want: BadPath},
		{name: "double slash in catch-all", path: "/static/a//b", want: BadPath},
		{name: "double slash at end", path: "/admin//", want: BadPath},
		{name: "trailing slash is fine", path: "/static/a/", want: Found, pattern: "/static/*path", params: "path=a/"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkLookup(t, tr, tc) })
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing []testRoute
		add      testRoute
		want     error
		mentions []string
	}{
		{name: "duplicate", existing: []testRoute{r("GET", "/users/:id")}, add: r("GET", "/users/:id"),
			want: ErrDuplicateRoute, mentions: []string{"GET /users/:id registered again"}},
		{name: "duplicate star", existing: []testRoute{r("*", "/x")}, add: r("*", "/x"), want: ErrDuplicateRoute},
		{name: "param names", existing: []testRoute{r("GET", "/users/:id")}, add: r("POST", "/users/:name/posts"),
			want: ErrParamConflict, mentions: []string{"POST /users/:name/posts", "GET /users/:id"}},
		{name: "catch-all names", existing: []testRoute{r("GET", "/s/*path")}, add: r("GET", "/s/*file"),
			want: ErrParamConflict, mentions: []string{"GET /s/*file", "GET /s/*path"}},
		{name: "host in conflict", existing: []testRoute{{"api.example.com", "GET", "/u/:id"}}, add: testRoute{"api.example.com", "GET", "/u/:uid"},
			want: ErrParamConflict, mentions: []string{"GET api.example.com/u/:uid", "GET api.example.com/u/:id"}},
		{name: "catch-all not last", add: r("GET", "/s/*path/x"), want: ErrCatchAllNotLast, mentions: []string{"/s/*path/x"}},
		{name: "too many params", add: r("GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/:q"), want: ErrTooManyParams},
		{name: "no leading slash", add: r("GET", "users"), want: ErrBadPattern},
		{name: "empty", add: r("GET", ""), want: ErrBadPattern},
		{name: "empty segment", add: r("GET", "/a//b"), want: ErrBadPattern},
		{name: "dot segment", add: r("GET", "/a/../b"), want: ErrBadPattern},
		{name: "percent", add: r("GET", "/a%20b"), want: ErrBadPattern},
		{name: "space", add: r("GET", "/a b"), want: ErrBadPattern},
		{name: "query", add: r("GET", "/a?b"), want: ErrBadPattern},
		{name: "empty param name", add: r("GET", "/a/:"), want: ErrBadPattern},
		{name: "empty catch-all name", add: r("GET", "/a/*"), want: ErrBadPattern},
		{name: "repeated param name", add: r("GET", "/a/:id/b/:id"), want: ErrBadPattern},
		{name: "bad method", add: r("GE T", "/"), want: ErrBadMethod},
		{name: "empty method", add: r("", "/"), want: ErrBadMethod},
		{name: "host with port", add: testRoute{"example.com:80", "GET", "/"}, want: ErrBadHost},
		{name: "host inner wildcard", add: testRoute{"a.*.com", "GET", "/"}, want: ErrBadHost},
		{name: "bare wildcard", add: testRoute{"*", "GET", "/"}, want: ErrBadHost},
		{name: "empty label", add: testRoute{"a..com", "GET", "/"}, want: ErrBadHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder[int](Options{})
			for _, e := range tc.existing {
				if err := b.Add(e.host, e.method, e.pattern, 0); err != nil {
					t.Fatal(err)
				}
			}
			err := b.Add(tc.add.host, tc.add.method, tc.add.pattern, 1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add = %v, want %v", err, tc.want)
			}
			for _, s := range tc.mentions {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			// The failed Add leaves the builder usable and the old routes intact.
			tr, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.existing {
				var m Match[int]
				path := strings.NewReplacer(":id", "1", "*path", "x", ":name", "n").Replace(e.pattern)
				method := e.method
				if method == "*" {
					method = "GET"
				}
				if res := tr.Lookup([]byte(e.host), []byte(method), []byte(path), &m); res != Found || m.Value != 0 {
					t.Errorf("after failed Add: Lookup %s = %v, %d", path, res, m.Value)
				}
			}
		})
	}
}

func TestBuilderAfterBuild(t *testing.T) {
	b := NewBuilder[int](Options{})
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("", "GET", "/", 1); !errors.Is(err, ErrBuilt) {
		t.Errorf("Add after Build = %v, want ErrBuilt", err)
	}
	if _, err := b.Build(); !errors.Is(err, ErrBuilt) {
		t.Errorf("second Build = %v, want ErrBuilt", err)
	}
}

func TestResultStatus(t *testing.T) {
	for _, tc := range []struct {
		r    Result
		want int
	}{{Found, 200}, {NotFound, 404}, {MethodNotAllowed, 405}, {BadPath, 400}, {RedirectSlash, 308}} {
		if got := tc.r.Status(); got != tc.want {
			t.Errorf("%v.Status() = %d, want %d", tc.r, got, tc.want)
		}
	}
}

func TestAppendRedirect(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/users/", "/users"},
		{"/users", "/users/"},
		{"/", "//"},
	} {
		if got := string(AppendRedirect(nil, []byte(tc.path))); got != tc.want {
			t.Errorf("AppendRedirect(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
