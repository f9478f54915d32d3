package cors

import (
	"bytes"
	"testing"
)

// FuzzAppend feeds any bytes as the origin, the requested method and
// headers of wildcard policies and checks what is echoed: every line
// appended is a "Name: value" line whose value has no control bytes (no
// header injection), an allowed origin is echoed only when Allows says so,
// and a refused preflight appends only its Vary line.
func FuzzAppend(f *testing.F) {
	f.Add([]byte("https://a.b.example.net"), []byte("PUT"), []byte("content-type, x-y"))
	f.Add([]byte("https://evil.com:1.example.net"), []byte("GET"), []byte(""))
	f.Add([]byte("https://x.example.net\r\nSet-Cookie: a=b"), []byte("P\rUT"), []byte("a\r\nb"))
	pols := []*Policy{
		mustNew(f, Options{AllowOrigins: []string{"https://*.example.net", "null"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, AllowCredentials: true}),
		mustNew(f, Options{AllowOrigins: []string{"*"}, AllowMethods: []string{"GET"}, AllowHeaders: []string{"x-y"}}),
	}
	f.Fuzz(func(t *testing.T, origin, method, headers []byte) {
		for _, p := range pols {
			pre, res := p.AppendPreflight(nil, origin, method, headers)
			act := p.AppendActual(nil, origin)
			for _, out := range [][]byte{pre, act} {
				for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\r\n")), []byte("\r\n")) {
					if len(out) == 0 {
						break
					}
					i := bytes.Index(line, []byte(": "))
					if i <= 0 {
						t.Fatalf("line %q is not a field", line)
					}
					for _, c := range line[i+2:] {
						if (c < 0x20 && c != '\t') || c == 0x7f {
							t.Fatalf("control byte in %q", line)
						}
					}
				}
			}
			if bytes.Contains(act, []byte("Allow-Origin")) != p.Allows(origin) {
				t.Fatalf("AppendActual %q for origin %q, Allows %v", act, origin, p.Allows(origin))
			}
			if res != Allowed && bytes.Contains(pre, []byte("Allow-")) {
				t.Fatalf("refused preflight appended %q", pre)
			}
		}
	})
}
