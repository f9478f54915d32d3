package cache

import (
	"strings"
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	c := newCache(t, Config{})
	lm := date(-time.Hour)
	e, err := store(t, c, get("/v"), response(200, "body", "Cache-Control", "max-age=60", "ETag", `W/"v1"`,
		"Last-Modified", lm, "Content-Type", "text/plain"), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	noTag, err := store(t, c, get("/lm"), response(200, "body", "Cache-Control", "max-age=60", "Last-Modified", lm), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	notFound, err := store(t, c, get("/404"), response(404, "gone", "Cache-Control", "max-age=60", "ETag", `"v1"`), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	for _, tc := range []struct {
		name     string
		e        *Entry
		inm, ims string // "-" for absent
		want     bool
	}{
		{"no validators", e, "-", "-", false},
		{"etag strong form matches weak", e, `"v1"`, "-", true},
		{"etag weak form", e, `W/"v1"`, "-", true},
		{"etag in a list", e, `"a", W/"v1" , "b"`, "-", true},
		{"etag star", e, `*`, "-", true},
		{"etag other", e, `"v2"`, "-", false},
		{"etag decides over a matching date", e, `"v2"`, lm, false},
		{"etag quoted comma", e, `"x,W/\"v1\""`, "-", false},
		{"etag unquoted is not a tag", e, `v1`, "-", false},
		{"ims verbatim", e, "-", lm, true},
		{"ims later", e, "-", date(-time.Minute), true},
		{"ims earlier", e, "-", date(-2 * time.Hour), false},
		{"ims in the future is ignored", e, "-", date(time.Hour), false},
		{"ims bad date", e, "-", "yesterday", false},
		{"no stored etag", noTag, `"v1"`, "-", false},
		{"no stored etag, ims", noTag, "-", lm, true},
		{"only a stored 200", notFound, `"v1"`, "-", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var inm, ims []byte
			if tc.inm != "-" {
				inm = []byte(tc.inm)
			}
			if tc.ims != "-" {
				ims = []byte(tc.ims)
			}
			if got := tc.e.NotModified(inm, ims, now); got != tc.want {
				t.Errorf("NotModified(%q, %q) = %v, want %v", tc.inm, tc.ims, got, tc.want)
			}
		})
	}

	out := string(e.AppendNotModified(nil, now))
	for _, want := range []string{"HTTP/1.1 304 Not Modified\r\n", "Cache-Control: max-age=60\r\n", "ETag: W/\"v1\"\r\n",
		"Last-Modified: " + lm + "\r\n", "Age: 1\r\n", "X-Cache: HIT\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("304 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Content-Type") || strings.Contains(out, "Content-Length") || strings.Contains(out, "body") ||
		!strings.HasSuffix(out, "\r\n\r\n") {
		t.Errorf("304 carries representation fields or a body:\n%q", out)
	}

	buf := make([]byte, 0, e.Size())
	inm, ims := []byte(`W/"v1"`), []byte(lm)
	if n := testing.AllocsPerRun(100, func() {
		if !e.NotModified(inm, nil, now) || !e.NotModified(nil, ims, now) {
			t.Fatal("no match")
		}
		buf = e.AppendNotModified(buf[:0], now)
	}); n != 0 {
		t.Errorf("a validated hit allocates %.1f times", n)
	}
}

func TestFreshened(t *testing.T) {
	c := newCache(t, Config{})
	stale, err := store(t, c, get("/f"), response(200, "stored body", "Cache-Control", "max-age=10", "ETag", `"v1"`,
		"Content-Encoding", "gzip", "X-Old", "kept", "X-Updated", "old"), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	notMod := response(304, "", "Cache-Control", "max-age=60", "X-Updated", "new", "Content-Encoding", "br")
	notMod.RequestTime, notMod.ResponseTime = t0.Add(30*time.Second), t0.Add(30*time.Second)
	resp := stale.Freshened(notMod)
	e, err := store(t, c, get("/f"), resp, &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(80 * time.Second) // stale by the old max-age, fresh by the new one from the 304
	if e.Status() != 200 || string(e.Body()) != "stored body" || !e.Fresh(at) {
		t.Fatalf("freshened entry: status %d body %q fresh %v", e.Status(), e.Body(), e.Fresh(at))
	}
	out := string(e.AppendResponse(nil, at, true))
	for _, want := range []string{"Cache-Control: max-age=60\r\n", "X-Updated: new\r\n", "X-Old: kept\r\n", "Content-Encoding: gzip\r\n", `ETag: "v1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "max-age=10") || strings.Contains(out, "X-Updated: old") || strings.Contains(out, "br") {
		t.Errorf("old or refused fields kept:\n%s", out)
	}
}
