package trie

import "testing"

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		mode Normalization
		want string // "" with ok false: refused
		ok   bool
	}{
		{name: "plain", path: "/a/b", mode: NormalizeReject, want: "/a/b", ok: true},
		{name: "other-escape-kept", path: "/a%20b", mode: NormalizeReject, want: "/a%20b", ok: true},
		{name: "reject-slash", path: "/private%2fx", mode: NormalizeReject},
		{name: "reject-slash-upper", path: "/private%2Fx", mode: NormalizeReject},
		{name: "reject-backslash-escape", path: "/a%5cb", mode: NormalizeReject},
		{name: "reject-raw-backslash", path: `/a\..\b`, mode: NormalizeReject},
		{name: "malformed-left-to-lookup", path: "/a%zz", mode: NormalizeReject, want: "/a%zz", ok: true},
		{name: "decode-slash", path: "/private%2fx", mode: NormalizeDecode, want: "/private/x", ok: true},
		{name: "decode-keeps-other-escapes", path: "/a%2Fb%20c", mode: NormalizeDecode, want: "/a/b%20c", ok: true},
		{name: "decode-dot-segment-stays-visible", path: "/public/..%2Fprivate", mode: NormalizeDecode, want: "/public/../private", ok: true},
		{name: "decode-backslash-refused", path: "/a%5Cb", mode: NormalizeDecode},
		{name: "decode-raw-backslash-refused", path: `/a\b`, mode: NormalizeDecode},
		{name: "keep-upper-cases", path: "/a%2fb%2Fc%5c", mode: NormalizeKeep, want: "/a%2Fb%2Fc%5C", ok: true},
		{name: "keep-lower-other", path: "/a%c3%a9", mode: NormalizeKeep, want: "/a%C3%A9", ok: true},
		{name: "keep-raw-backslash", path: `/a\b`, mode: NormalizeKeep, want: `/a\b`, ok: true},
		{name: "keep-untouched", path: "/a%2Fb", mode: NormalizeKeep, want: "/a%2Fb", ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Normalize(nil, []byte(tc.path), tc.mode)
			if ok != tc.ok || (ok && string(got) != tc.want) {
				t.Fatalf("Normalize(%q, %d) = %q, %v; want %q, %v", tc.path, tc.mode, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestNormalizeRoutes: after normalisation, what a route sees is what an
// upstream that decodes would see, or the request is refused.
func TestNormalizeRoutes(t *testing.T) {
	b := NewBuilder[string](Options{})
	for _, p := range []string{"/private/*rest", "/public/*rest", "/*any"} {
		if err := b.Add("", "GET", p, p); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var m Match[string]
	for _, tc := range []struct {
		name  string
		path  string
		mode  Normalization
		want  Result
		route string
	}{
		{name: "reject", path: "/private%2fx", mode: NormalizeReject, want: BadPath},
		{name: "decode-routes-private", path: "/private%2fx", mode: NormalizeDecode, want: Found, route: "/private/*rest"},
		{name: "decode-traversal", path: "/public/..%2fprivate/x", mode: NormalizeDecode, want: BadPath},
		{name: "decode-double-slash", path: "/public%2f%2fx", mode: NormalizeDecode, want: BadPath},
		{name: "keep-catch-all", path: "/private%2fx", mode: NormalizeKeep, want: Found, route: "/*any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BadPath
			if p, ok := Normalize(nil, []byte(tc.path), tc.mode); ok {
				got = tr.Lookup(nil, []byte("GET"), p, &m)
			}
			if got != tc.want || (got == Found && m.Value != tc.route) {
				t.Fatalf("%s: %v %q, want %v %q", tc.path, got, m.Value, tc.want, tc.route)
			}
		})
	}
}

func TestNormalizeNoAlloc(t *testing.T) {
	plain, dst := []byte("/api/users/42/orders"), make([]byte, 0, 64)
	decode := []byte("/a%2Fb")
	if n := testing.AllocsPerRun(100, func() {
		Normalize(dst, plain, NormalizeReject)
		Normalize(dst, decode, NormalizeDecode)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
