package cors

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, o Options) *Policy {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		field string
		index int
	}{
		{name: "no-origins", opts: Options{}, field: "allow_origins", index: -1},
		{name: "star-with-credentials", opts: Options{AllowOrigins: []string{"https://a.test", "*"}, AllowCredentials: true}, field: "allow_origins", index: 1},
		{name: "path", opts: Options{AllowOrigins: []string{"https://a.test/"}}, field: "allow_origins", index: 0},
		{name: "no-scheme", opts: Options{AllowOrigins: []string{"a.test"}}, field: "allow_origins", index: 0},
		{name: "star-inside", opts: Options{AllowOrigins: []string{"https://a.*.test"}}, field: "allow_origins", index: 0},
		{name: "two-stars", opts: Options{AllowOrigins: []string{"https://*.*.test"}}, field: "allow_origins", index: 0},
		{name: "bad-port", opts: Options{AllowOrigins: []string{"https://a.test:99999"}}, field: "allow_origins", index: 0},
		{name: "userinfo", opts: Options{AllowOrigins: []string{"https://u@a.test"}}, field: "allow_origins", index: 0},
		{name: "method", opts: Options{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET", "BAD METHOD"}}, field: "allow_methods", index: 1},
		{name: "header", opts: Options{AllowOrigins: []string{"*"}, AllowHeaders: []string{"X:Y"}}, field: "allow_headers", index: 0},
		{name: "expose-star-credentials", opts: Options{AllowOrigins: []string{"https://a.test"}, ExposeHeaders: []string{"*"}, AllowCredentials: true}, field: "expose_headers", index: 0},
		{name: "max-age", opts: Options{AllowOrigins: []string{"*"}, MaxAge: -time.Second}, field: "max_age", index: -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.opts)
			var e *Error
			if !errors.As(err, &e) || e.Field != c.field || e.Index != c.index {
				t.Fatalf("err %v, want field %s index %d", err, c.field, c.index)
			}
		})
	}
}

func TestAllows(t *testing.T) {
	p := mustNew(t, Options{AllowOrigins: []string{"https://App.example.com", "https://*.example.net", "http://*.dev.test:8080", "http://[::1]:3000", "null"}})
	cases := []struct {
		origin string
		want   bool
	}{
		{origin: "https://app.example.com", want: true},
		{origin: "HTTPS://APP.EXAMPLE.COM", want: true},
		{origin: "https://app.example.com:443", want: false}, // browsers leave the default port out
		{origin: "http://app.example.com", want: false},
		{origin: "https://evil.com/app.example.com", want: false},
		{origin: "https://a.example.net", want: true},
		{origin: "https://a.b.example.net", want: true},
		{origin: "https://example.net", want: false},
		{origin: "https://.example.net", want: false},
		{origin: "https://evil.com:1.example.net", want: false},
		{origin: "https://evil.com/.example.net", want: false},
		{origin: "https://user@x.example.net", want: false},
		{origin: "https://a.example.net.evil.com", want: false},
		{origin: "https://aexample.net", want: false},
		{origin: "http://x.dev.test:8080", want: true},
		{origin: "http://x.dev.test", want: false},
		{origin: "http://[::1]:3000", want: true},
		{origin: "null", want: true},
		{origin: "", want: false},
		{origin: "https://" + strings.Repeat("a", 600) + ".example.net", want: false},
	}
	for _, c := range cases {
		if got := p.Allows([]byte(c.origin)); got != c.want {
			t.Errorf("Allows(%q) = %v, want %v", c.origin, got, c.want)
		}
	}
	if !mustNew(t, Options{AllowOrigins: []string{"*"}}).Allows([]byte("https://anything.test")) {
		t.Error(`"*" does not allow an origin`)
	}
}

func TestAppendActual(t *testing.T) {
	cases := []struct {
		name   string
		opts   Options
		origin string // "-" for none
		want   string
	}{
		{
			name:   "allowed",
			opts:   Options{AllowOrigins: []string{"https://a.test"}, ExposeHeaders: []string{"X-Total", "ETag"}},
			origin: "https://a.test",
			want:   "Access-Control-Allow-Origin: https://a.test\r\nAccess-Control-Expose-Headers: X-Total, ETag\r\nVary: Origin\r\n",
		},
		{
			name:   "credentials",
			opts:   Options{AllowOrigins: []string{"https://*.a.test"}, AllowCredentials: true},
			origin: "https://x.a.test",
			want:   "Access-Control-Allow-Origin: https://x.a.test\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n",
		},
		{
			name:   "refused-origin-still-varies",
			opts:   Options{AllowOrigins: []string{"https://a.test"}},
			origin: "https://b.test",
			want:   "Vary: Origin\r\n",
		},
		{
			name:   "no-origin-still-varies",
			opts:   Options{AllowOrigins: []string{"https://a.test"}},
			origin: "-",
			want:   "Vary: Origin\r\n",
		},
		{
			name:   "any-origin",
			opts:   Options{AllowOrigins: []string{"*"}},
			origin: "https://b.test",
			want:   "Access-Control-Allow-Origin: *\r\n",
		},
		{
			name:   "any-origin-no-origin",
			opts:   Options{AllowOrigins: []string{"*"}},
			origin: "-",
			want:   "",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustNew(t, c.opts)
			var origin []byte
			if c.origin != "-" {
				origin = []byte(c.origin)
			}
			if got := string(p.AppendActual(nil, origin)); got != c.want {
				t.Fatalf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestAppendPreflight(t *testing.T) {
	const vary = "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n"
	base := Options{
		AllowOrigins:     []string{"https://a.test"},
		AllowMethods:     []string{"GET", "PUT", "DELETE"},
		AllowHeaders:     []string{"Content-Type", "X-Api-Key"},
		AllowCredentials: true,
		MaxAge:           10 * time.Minute,
	}
	anyOpts := Options{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
	cases := []struct {
		name                    string
		opts                    Options
		origin, method, headers string
		res                     Result
		want                    string
	}{
		{
			name: "allowed", opts: base, origin: "https://a.test", method: "PUT", headers: "content-type, x-api-key",
			want: "Access-Control-Allow-Origin: https://a.test\r\nAccess-Control-Allow-Credentials: true\r\n" +
				"Access-Control-Allow-Methods: GET, PUT, DELETE\r\nAccess-Control-Allow-Headers: content-type, x-api-key\r\n" +
				"Access-Control-Max-Age: 600\r\n" + vary,
		},
		{
			name: "safelisted-method-not-listed", opts: base, origin: "https://a.test", method: "POST",
			want: "Access-Control-Allow-Origin: https://a.test\r\nAccess-Control-Allow-Credentials: true\r\n" +
				"Access-Control-Allow-Methods: GET, PUT, DELETE\r\nAccess-Control-Allow-Headers: content-type, x-api-key\r\n" +
				"Access-Control-Max-Age: 600\r\n" + vary,
		},
		{name: "origin-refused", opts: base, origin: "https://b.test", method: "PUT", res: OriginRefused, want: vary},
		{name: "method-refused", opts: base, origin: "https://a.test", method: "PATCH", res: MethodRefused, want: vary},
		{name: "method-case-sensitive", opts: base, origin: "https://a.test", method: "put", res: MethodRefused, want: vary},
		{name: "no-method", opts: base, origin: "https://a.test", method: "", res: MethodRefused, want: vary},
		{name: "header-refused", opts: base, origin: "https://a.test", method: "PUT", headers: "content-type,x-other", res: HeadersRefused, want: vary},
		{name: "header-not-token", opts: anyOpts, origin: "https://a.test", method: "PUT", headers: "x\x01y", res: HeadersRefused, want: vary},
		{
			name: "any-echoes", opts: anyOpts, origin: "https://b.test", method: "PATCH", headers: "X-One, x-two",
			want: "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: PATCH\r\nAccess-Control-Allow-Headers: X-One, x-two\r\n" + vary,
		},
		{
			name: "any-no-headers", opts: anyOpts, origin: "https://b.test", method: "GET",
			want: "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET\r\n" + vary,
		},
		{
			name: "empty-list-elements", opts: base, origin: "https://a.test", method: "GET", headers: " , x-api-key,, ",
			want: "Access-Control-Allow-Origin: https://a.test\r\nAccess-Control-Allow-Credentials: true\r\n" +
				"Access-Control-Allow-Methods: GET, PUT, DELETE\r\nAccess-Control-Allow-Headers: content-type, x-api-key\r\n" +
				"Access-Control-Max-Age: 600\r\n" + vary,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustNew(t, c.opts)
			var headers []byte
			if c.headers != "" {
				headers = []byte(c.headers)
			}
			got, res := p.AppendPreflight(nil, []byte(c.origin), []byte(c.method), headers)
			if res != c.res || string(got) != c.want {
				t.Fatalf("result %d, fields\n%q\nwant %d\n%q", res, got, c.res, c.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := mustNew(t, Options{AllowOrigins: []string{"https://a.test"}})
	got, res := p.AppendPreflight(nil, []byte("https://a.test"), []byte("DELETE"), nil)
	if res != MethodRefused {
		t.Fatalf("DELETE allowed by default: %q", got)
	}
	got, res = p.AppendPreflight(nil, []byte("https://a.test"), []byte("POST"), []byte("x-custom"))
	if res != HeadersRefused {
		t.Fatalf("a custom header allowed by default: %q", got)
	}
	got, _ = p.AppendPreflight(nil, []byte("https://a.test"), []byte("GET"), nil)
	if !strings.Contains(string(got), "Access-Control-Allow-Methods: GET, HEAD, POST\r\n") || strings.Contains(string(got), "Max-Age") {
		t.Fatalf("defaults: %q", got)
	}
}

func TestResponseFields(t *testing.T) {
	p := mustNew(t, Options{AllowOrigins: []string{"https://a.test"}, AllowHeaders: []string{"x"}, ExposeHeaders: []string{"y"}, AllowCredentials: true, MaxAge: time.Hour})
	out, _ := p.AppendPreflight(nil, []byte("https://a.test"), []byte("GET"), []byte("x"))
	out = p.AppendActual(out, []byte("https://a.test"))
	fields := ResponseFields()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		if name == "Vary" {
			continue
		}
		found := false
		for _, f := range fields {
			found = found || strings.EqualFold(f, name)
		}
		if !found {
			t.Errorf("%s is written but not in ResponseFields", name)
		}
	}
}
