package pool

import (
	"errors"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestCookieValue(t *testing.T) {
	tests := []struct {
		name, header, cookie string
		want                 string
		absent               bool
	}{
		{name: "only", header: "sid=abc", cookie: "sid", want: "abc"},
		{name: "middle", header: "a=1; sid=abc; b=2", cookie: "sid", want: "abc"},
		{name: "last no space", header: "a=1;sid=xyz", cookie: "sid", want: "xyz"},
		{name: "quoted", header: `a=1; sid="q v"`, cookie: "sid", want: "q v"},
		{name: "empty value", header: "sid=; a=1", cookie: "sid", want: ""},
		{name: "prefix name is not a match", header: "xsid=1; sidx=2", cookie: "sid", absent: true},
		{name: "value contains name", header: "a=sid=1", cookie: "sid", absent: true},
		{name: "absent", header: "a=1; b=2", cookie: "sid", absent: true},
		{name: "empty header", header: "", cookie: "sid", absent: true},
		{name: "no equals", header: "sid; a=1", cookie: "sid", absent: true},
		{name: "first of duplicates", header: "sid=1; sid=2", cookie: "sid", want: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CookieValue([]byte(tc.header), tc.cookie)
			if tc.absent {
				if got != nil {
					t.Fatalf("got %q, want nil", got)
				}
				return
			}
			if got == nil || string(got) != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseKeyKind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want KeyKind
		err  error
	}{
		{"empty", "", KeyNone, nil},
		{"client ip", "client_ip", KeyClientIP, nil},
		{"header", "header", KeyHeader, nil},
		{"cookie", "cookie", KeyCookie, nil},
		{"path", "path", KeyPath, nil},
		{"unknown", "query", KeyNone, ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeyKind(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("ParseKeyKind(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
			}
			if err == nil && tc.in != "" && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	if HashKey([]byte("/a")) != xxhash.Sum64String("/a") {
		t.Fatal("HashKey is not xxhash64")
	}
}

func TestKeyAllocs(t *testing.T) {
	h := []byte("a=1; b=2; session=abcdef0123; c=3")
	n := testing.AllocsPerRun(1000, func() {
		_ = HashKey(CookieValue(h, "session"))
	})
	if n != 0 {
		t.Fatalf("CookieValue+HashKey allocate %v times per run", n)
	}
}

func BenchmarkCookieValue(b *testing.B) {
	h := []byte("a=1; b=2; session=abcdef0123; c=3")
	b.ReportAllocs()
	for b.Loop() {
		_ = HashKey(CookieValue(h, "session"))
	}
}
