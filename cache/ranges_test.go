package cache

import (
	"strings"
	"testing"
	"time"
)

func TestRange(t *testing.T) {
	c := newCache(t, Config{})
	lm := date(-time.Hour)
	e, err := store(t, c, get("/r"), response(200, "0123456789", "Cache-Control", "max-age=60", "ETag", `"v1"`, "Last-Modified", lm), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	weak, err := store(t, c, get("/w"), response(200, "0123456789", "Cache-Control", "max-age=60", "ETag", `W/"v1"`), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	none := ByteRange{}
	part := func(a, b int64) ByteRange { return ByteRange{Kind: RangePartial, Start: a, End: b} }
	unsat := ByteRange{Kind: RangeUnsatisfiable}
	for _, tc := range []struct {
		name         string
		e            *Entry
		rng, ifRange string // "-" absent
		want         ByteRange
	}{
		{"no range", e, "-", "-", none},
		{"first-last", e, "bytes=2-4", "-", part(2, 4)},
		{"spaces and case", e, " Bytes = 2-4 ", "-", none}, // "Bytes = " is not "bytes="
		{"open end", e, "bytes=7-", "-", part(7, 9)},
		{"suffix", e, "bytes=-3", "-", part(7, 9)},
		{"suffix longer than body", e, "bytes=-30", "-", part(0, 9)},
		{"last past the end", e, "bytes=8-100", "-", part(8, 9)},
		{"first past the end", e, "bytes=10-12", "-", unsat},
		{"open end past the end", e, "bytes=10-", "-", unsat},
		{"zero suffix", e, "bytes=-0", "-", unsat},
		{"several ranges", e, "bytes=0-1,4-5", "-", none},
		{"reversed", e, "bytes=5-2", "-", none},
		{"other unit", e, "items=0-1", "-", none},
		{"garbage", e, "bytes=a-b", "-", none},
		{"huge", e, "bytes=0-99999999999999999999", "-", none},
		{"if-range etag", e, "bytes=2-4", `"v1"`, part(2, 4)},
		{"if-range other etag", e, "bytes=2-4", `"v2"`, none},
		{"if-range weak", e, "bytes=2-4", `W/"v1"`, none},
		{"if-range date", e, "bytes=2-4", lm, part(2, 4)},
		{"if-range other date", e, "bytes=2-4", date(0), none},
		{"weak stored etag never matches", weak, "bytes=2-4", `"v1"`, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rng, ifr []byte
			if tc.rng != "-" {
				rng = []byte(tc.rng)
			}
			if tc.ifRange != "-" {
				ifr = []byte(tc.ifRange)
			}
			if got := tc.e.Range(rng, ifr); got != tc.want {
				t.Errorf("Range(%q, %q) = %+v, want %+v", tc.rng, tc.ifRange, got, tc.want)
			}
		})
	}

	now := t0.Add(time.Second)
	out := string(e.AppendRange(nil, now, part(2, 4)))
	for _, want := range []string{"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 2-4/10\r\n", "Content-Length: 3\r\n", `ETag: "v1"`, "X-Cache: HIT\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("206 lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\n\r\n") || strings.Count(out, "Content-Length") != 1 {
		t.Errorf("206 head:\n%q", out)
	}
	out = string(e.AppendRange(nil, now, unsat))
	if !strings.HasPrefix(out, "HTTP/1.1 416 Range Not Satisfiable\r\n") || !strings.Contains(out, "Content-Range: bytes */10\r\n") {
		t.Errorf("416:\n%q", out)
	}
	buf := make([]byte, 0, e.Size()+64)
	rng := []byte("bytes=2-4")
	if n := testing.AllocsPerRun(100, func() { buf = e.AppendRange(buf[:0], now, e.Range(rng, nil)) }); n != 0 {
		t.Errorf("a ranged hit allocates %.1f times", n)
	}
}
