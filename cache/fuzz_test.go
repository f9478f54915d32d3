package cache

import (
	"bytes"
	"testing"
	"time"
)

// FuzzValidation feeds client-controlled Range, If-Range, If-None-Match
// and If-Modified-Since values to a stored response: nothing panics, a
// partial range always lies inside the body, and the rendered heads end
// with an empty line.
func FuzzValidation(f *testing.F) {
	for _, s := range [][4]string{
		{"bytes=0-4", "", "", ""},
		{"bytes=-3", `"v1"`, "", ""},
		{"bytes=5-", "Sun, 22 Nov 2026 11:00:00 GMT", `W/"v1", "x"`, ""},
		{"bytes=0-0,2-2", `W/"v1"`, "*", "Sun, 22 Nov 2026 11:00:00 GMT"},
		{"bytes=99999999999999999-", "", `"`, "garbage"},
		{"Bytes=1-2", "\"v1", `"a,b", W/""`, "Sun, 22 Nov 2026 13:00:00 GMT"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	c := newCache(f, Config{})
	e, err := store(f, c, get("/f"), response(200, "0123456789", "Cache-Control", "max-age=60", "ETag", `"v1"`,
		"Last-Modified", date(-time.Hour)), &Policy{})
	if err != nil {
		f.Fatal(err)
	}
	now := t0.Add(time.Second)
	opt := func(s string) []byte {
		if s == "" {
			return nil
		}
		return []byte(s)
	}
	f.Fuzz(func(t *testing.T, rng, ifRange, inm, ims string) {
		_ = e.NotModified(opt(inm), opt(ims), now)
		r := e.Range(opt(rng), opt(ifRange))
		switch r.Kind {
		case RangePartial:
			if r.Start < 0 || r.End < r.Start || r.End >= int64(len(e.Body())) {
				t.Fatalf("Range(%q, %q) = %+v outside a %d-byte body", rng, ifRange, r, len(e.Body()))
			}
			fallthrough
		case RangeUnsatisfiable:
			if h := e.AppendRange(nil, now, r); !bytes.HasSuffix(h, []byte("\r\n\r\n")) {
				t.Fatalf("unterminated head %q", h)
			}
		}
		if h := e.AppendNotModified(nil, now); !bytes.HasSuffix(h, []byte("\r\n\r\n")) {
			t.Fatalf("unterminated 304 head %q", h)
		}
	})
}
