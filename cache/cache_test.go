package cache

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fields is a test request's header list; a pointer implements Headers
// without allocating.
type fields struct{ kv [][2][]byte }

func (f *fields) Len() int                         { return len(f.kv) }
func (f *fields) Field(i int) (name, value []byte) { return f.kv[i][0], f.kv[i][1] }

func hdrs(kv ...string) *fields {
	f := &fields{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.kv = append(f.kv, [2][]byte{[]byte(kv[i]), []byte(kv[i+1])})
	}
	return f
}

func get(url string, kv ...string) *Request {
	path, query, _ := strings.Cut(url, "?")
	r := &Request{Method: []byte("GET"), Host: []byte("Example.COM"), Path: []byte(path), Headers: hdrs(kv...)}
	if query != "" {
		r.Query = []byte(query)
	}
	return r
}

func response(status int, body string, kv ...string) *Response {
	r := &Response{Status: status, Body: []byte(body), RequestTime: t0, ResponseTime: t0}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header = append(r.Header, Field{[]byte(kv[i]), []byte(kv[i+1])})
	}
	return r
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func date(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }

func newCache(t testing.TB, cfg Config) *Cache {
	t.Helper()
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 << 20
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// store runs the leader's path for req: Lookup, Store, Complete.
func store(t testing.TB, c *Cache, req *Request, resp *Response, p *Policy) (*Entry, error) {
	t.Helper()
	res := c.Lookup(req, resp.RequestTime, nil)
	e, err := c.Store(res.Ticket, req, resp, p)
	c.Complete(res.Ticket, e)
	c.Sync()
	return e, err
}

func TestFreshness(t *testing.T) {
	type probe struct {
		after  time.Duration // since the response
		req    []string      // request header fields
		state  State
		leader bool
		age    string // Age served, when a Hit or Stale
	}
	tests := []struct {
		name   string
		status int
		resp   []string
		req    []string // the storing request's fields
		policy Policy
		cfg    Config
		err    error
		probes []probe
	}{
		{name: "max-age", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: 10 * time.Second, state: Hit, age: "10"}, {after: 61 * time.Second, state: Miss, leader: true}}},
		{name: "s-maxage wins over max-age", resp: []string{"Cache-Control", "max-age=600, s-maxage=30"},
			probes: []probe{{after: 29 * time.Second, state: Hit}, {after: 31 * time.Second, state: Miss, leader: true}}},
		{name: "expires minus date", resp: []string{"Date", date(0), "Expires", date(60 * time.Second)},
			probes: []probe{{after: 30 * time.Second, state: Hit}, {after: 61 * time.Second, state: Miss, leader: true}}},
		{name: "max-age beats expires", resp: []string{"Cache-Control", "max-age=5", "Expires", date(time.Hour)},
			probes: []probe{{after: 6 * time.Second, state: Miss, leader: true}}},
		{name: "invalid expires is expired", resp: []string{"Expires", "0"}, err: ErrNotFresh},
		{name: "no explicit freshness", resp: []string{"Content-Type", "text/plain"}, err: ErrNotFresh},
		{name: "route default_ttl", resp: []string{"Content-Type", "text/plain"}, policy: Policy{DefaultTTL: 10 * time.Second},
			probes: []probe{{after: 9 * time.Second, state: Hit}, {after: 11 * time.Second, state: Miss, leader: true}}},
		{name: "route ttl overrides", resp: []string{"Cache-Control", "max-age=1"}, policy: Policy{TTL: time.Minute},
			probes: []probe{{after: 30 * time.Second, state: Hit}}},
		{name: "route max_ttl caps", resp: []string{"Cache-Control", "max-age=3600"}, policy: Policy{MaxTTL: 10 * time.Second},
			probes: []probe{{after: 11 * time.Second, state: Miss, leader: true}}},
		{name: "age header counts", resp: []string{"Cache-Control", "max-age=60", "Age", "50"},
			probes: []probe{{after: 5 * time.Second, state: Hit, age: "55"}, {after: 11 * time.Second, state: Miss, leader: true}}},
		{name: "already stale on arrival", resp: []string{"Cache-Control", "max-age=60", "Age", "60"}, err: ErrNotFresh},
		{name: "apparent age from date", resp: []string{"Cache-Control", "max-age=60", "Date", date(-20 * time.Second)},
			probes: []probe{{after: 5 * time.Second, state: Hit, age: "25"}, {after: 41 * time.Second, state: Miss, leader: true}}},
		{name: "no-store", resp: []string{"Cache-Control", "no-store, max-age=60"}, err: ErrNoStore},
		{name: "private", resp: []string{"Cache-Control", "private, max-age=60"}, err: ErrPrivate},
		{name: "qualified private is private", resp: []string{"Cache-Control", `private="x", max-age=60`}, err: ErrPrivate},
		{name: "no-cache", resp: []string{"Cache-Control", "no-cache, max-age=60"}, err: ErrNoCache},
		{name: "directives are case-insensitive", resp: []string{"Cache-Control", "Max-Age=60, NO-STORE"}, err: ErrNoStore},
		{name: "authorization needs public", req: []string{"Authorization", "Bearer x"},
			resp: []string{"Cache-Control", "max-age=60"}, err: ErrAuthorization},
		{name: "authorization with public", req: []string{"Authorization", "Bearer x"},
			resp: []string{"Cache-Control", "public, max-age=60"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "authorization with s-maxage", req: []string{"Authorization", "Bearer x"},
			resp: []string{"Cache-Control", "s-maxage=60"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "authorization with must-revalidate", req: []string{"Authorization", "Bearer x"},
			resp: []string{"Cache-Control", "max-age=60, must-revalidate"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "authenticated route needs public", req: []string{"X-Api-Key", "k1"}, policy: Policy{Authenticated: true},
			resp: []string{"Cache-Control", "max-age=60"}, err: ErrAuthorization},
		{name: "authenticated route default_ttl needs public", policy: Policy{Authenticated: true, DefaultTTL: time.Minute},
			resp: []string{"Content-Type", "text/plain"}, err: ErrAuthorization},
		{name: "authenticated route with public", policy: Policy{Authenticated: true},
			resp: []string{"Cache-Control", "public, max-age=60"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "authenticated route with s-maxage", policy: Policy{Authenticated: true},
			resp: []string{"Cache-Control", "s-maxage=60"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "set-cookie not stored", resp: []string{"Cache-Control", "max-age=60", "Set-Cookie", "a=b"}, err: ErrSetCookie},
		{name: "set-cookie stored when allowed", resp: []string{"Cache-Control", "max-age=60", "Set-Cookie", "a=b"},
			policy: Policy{StoreSetCookie: true}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "vary star", resp: []string{"Cache-Control", "max-age=60", "Vary", "*"}, err: ErrVaryStar},
		{name: "302 not in the list", status: 302, resp: []string{"Cache-Control", "max-age=60"}, err: ErrStatus},
		{name: "404 with freshness", status: 404, resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: time.Second, state: Hit}}},
		{name: "configured statuses", status: 302, cfg: Config{Statuses: []int{302}},
			resp: []string{"Cache-Control", "max-age=60"}, probes: []probe{{after: time.Second, state: Hit}}},
		{name: "client no-cache refreshes", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: time.Second, req: []string{"Cache-Control", "no-cache"}, state: Miss, leader: true}}},
		{name: "client max-age=0 refreshes", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: time.Second, req: []string{"Cache-Control", "max-age=0"}, state: Miss, leader: true}}},
		{name: "client no-cache ignored when configured", resp: []string{"Cache-Control", "max-age=60"},
			cfg:    Config{IgnoreClientNoCache: true},
			probes: []probe{{after: time.Second, req: []string{"Cache-Control", "no-cache"}, state: Hit}}},
		{name: "client max-age", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{
				{after: 10 * time.Second, req: []string{"Cache-Control", "max-age=5"}, state: Miss, leader: true},
				{after: 10 * time.Second, req: []string{"Cache-Control", "max-age=20"}, state: Hit}}},
		{name: "client min-fresh", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: 40 * time.Second, req: []string{"Cache-Control", "min-fresh=30"}, state: Miss, leader: true}}},
		{name: "client max-stale", resp: []string{"Cache-Control", "max-age=10"},
			probes: []probe{
				{after: 20 * time.Second, req: []string{"Cache-Control", "max-stale=100"}, state: Stale},
				{after: 20 * time.Second, req: []string{"Cache-Control", "max-stale"}, state: Stale},
				{after: 20 * time.Second, req: []string{"Cache-Control", "max-stale=5"}, state: Miss, leader: true}}},
		{name: "must-revalidate forbids stale", resp: []string{"Cache-Control", "max-age=10, must-revalidate, stale-while-revalidate=60"},
			probes: []probe{{after: 20 * time.Second, req: []string{"Cache-Control", "max-stale"}, state: Miss, leader: true}}},
		{name: "stale-while-revalidate", resp: []string{"Cache-Control", "max-age=10, stale-while-revalidate=30"},
			cfg: Config{CoalesceTimeout: time.Minute},
			probes: []probe{
				{after: 20 * time.Second, state: Stale, leader: true},
				{after: 21 * time.Second, state: Stale},  // one revalidation at a time
				{after: 41 * time.Second, state: Wait}}}, // beyond the window: waits for the revalidation
		{name: "route stale-while-revalidate", resp: []string{"Cache-Control", "max-age=10"},
			policy: Policy{StaleWhileRevalidate: 30 * time.Second},
			probes: []probe{{after: 20 * time.Second, state: Stale, leader: true}}},
		{name: "client no-store on a miss bypasses", resp: []string{"Cache-Control", "max-age=10"},
			probes: []probe{{after: 20 * time.Second, req: []string{"Cache-Control", "no-store"}, state: Bypass}}},
		{name: "client no-store is served a hit", resp: []string{"Cache-Control", "max-age=10"},
			probes: []probe{{after: 5 * time.Second, req: []string{"Cache-Control", "no-store"}, state: Hit}}},
		{name: "uncacheable header bypasses", resp: []string{"Cache-Control", "max-age=60"},
			probes: []probe{{after: time.Second, req: []string{"X-Forwarded-Host", "evil.example"}, state: Bypass}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, tt.cfg)
			status := tt.status
			if status == 0 {
				status = 200
			}
			_, err := store(t, c, get("/r", tt.req...), response(status, "body", tt.resp...), &tt.policy)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Store: %v, want %v", err, tt.err)
			}
			for i, p := range tt.probes {
				req := get("/r", p.req...)
				res := c.Lookup(req, t0.Add(p.after), &chanWaiter{})
				if res.State != p.state || res.Leader != p.leader {
					t.Fatalf("probe %d: got %v leader=%v, want %v leader=%v", i, res.State, res.Leader, p.state, p.leader)
				}
				if p.age != "" {
					out := string(res.Entry.AppendResponse(nil, t0.Add(p.after), false))
					if !strings.Contains(out, "\r\nAge: "+p.age+"\r\n") {
						t.Fatalf("probe %d: want Age %s in\n%s", i, p.age, out)
					}
				}
			}
		})
	}
}

func TestStaleIfError(t *testing.T) {
	c := newCache(t, Config{})
	if _, err := store(t, c, get("/r"), response(200, "old", "Cache-Control", "max-age=10, stale-if-error=60"), nil); err != nil {
		t.Fatal(err)
	}
	res := c.Lookup(get("/r"), t0.Add(30*time.Second), nil)
	if res.State != Miss || !res.Leader || res.Entry == nil || !res.Entry.UsableOnError(t0.Add(30*time.Second)) {
		t.Fatalf("within stale-if-error: %v leader=%v entry=%v", res.State, res.Leader, res.Entry != nil)
	}
	c.Fail(res.Ticket)
	res = c.Lookup(get("/r"), t0.Add(80*time.Second), nil)
	if res.Entry != nil {
		t.Fatal("stale entry offered beyond stale-if-error")
	}
	c.Fail(res.Ticket)
}

func TestHeadSharesGet(t *testing.T) {
	c := newCache(t, Config{})
	head := get("/r")
	head.Method = []byte("HEAD")
	if _, err := store(t, c, head, response(200, "", "Cache-Control", "max-age=60"), nil); !errors.Is(err, ErrMethod) {
		t.Fatalf("storing a HEAD response: %v, want ErrMethod", err)
	}
	if _, err := store(t, c, get("/r"), response(200, "hello", "Cache-Control", "max-age=60"), nil); err != nil {
		t.Fatal(err)
	}
	res := c.Lookup(head, t0, nil)
	if res.State != Hit {
		t.Fatalf("HEAD: %v, want hit", res.State)
	}
	out := string(res.Entry.AppendResponse(nil, t0, true))
	if !strings.HasSuffix(out, "Content-Length: 5\r\n\r\n") {
		t.Fatalf("HEAD response:\n%q", out)
	}
	post := get("/r")
	post.Method = []byte("POST")
	if res := c.Lookup(post, t0, nil); res.State != Bypass {
		t.Fatalf("POST: %v, want bypass", res.State)
	}
}

func TestAppendResponse(t *testing.T) {
	c := newCache(t, Config{})
	resp := response(200, "hello", "Content-Type", "text/plain", "Cache-Control", "max-age=60",
		"Connection", "keep-alive", "Content-Length", "5", "Age", "3", "ETag", `"v1"`, "Set-Cookie", "s=1")
	e, err := store(t, c, get("/r"), resp, &Policy{StoreSetCookie: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\n" +
		"Age: 13\r\nX-Cache: HIT\r\nContent-Length: 5\r\n\r\nhello"
	if got := string(e.AppendResponse(nil, t0.Add(10*time.Second), false)); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if string(e.ETag()) != `"v1"` {
		t.Fatalf("ETag %q", e.ETag())
	}
	if got := string(e.AppendResponse(nil, t0.Add(70*time.Second), false)); !strings.Contains(got, "X-Cache: STALE\r\n") {
		t.Fatalf("stale entry not marked:\n%s", got)
	}
}

func TestVary(t *testing.T) {
	c := newCache(t, Config{})
	vary := func(lang, body string) {
		t.Helper()
		if _, err := store(t, c, get("/v", "Accept-Language", lang),
			response(200, body, "Cache-Control", "max-age=60", "Vary", "accept-language, Accept-Encoding"), nil); err != nil {
			t.Fatal(err)
		}
	}
	vary("en", "hello")
	if res := c.Lookup(get("/v", "Accept-Language", "fr"), t0, nil); res.State != Miss {
		t.Fatalf("other variant: %v, want miss", res.State)
	} else {
		c.Fail(res.Ticket)
	}
	vary("fr", "bonjour")
	for lang, body := range map[string]string{"en": "hello", "fr": "bonjour"} {
		res := c.Lookup(get("/v", "Accept-Language", " "+lang), t0, nil)
		if res.State != Hit || string(res.Entry.Body()) != body {
			t.Fatalf("%s: %v %q", lang, res.State, res.Entry.Body())
		}
	}
	// Absent and empty differ.
	if res := c.Lookup(get("/v"), t0, nil); res.State != Miss {
		t.Fatalf("no Accept-Language: %v, want miss", res.State)
	}
}

// An unkeyed header that is not in the uncacheable list does not create
// variants: the cache serves what it stored for the key it keys on, and
// a response the upstream shaped by that header is served to everyone —
// which is why such headers belong in uncacheable_headers (or must be
// stripped by the engine). The listed ones bypass both ways.
func TestPoisoningUnkeyedHeaders(t *testing.T) {
	c := newCache(t, Config{})
	// An attacker's request carrying X-Forwarded-Host: never looked up as
	// cacheable, so its response cannot be stored.
	attack := get("/p", "X-Forwarded-Host", "evil.example")
	res := c.Lookup(attack, t0, nil)
	if res.State != Bypass {
		t.Fatalf("X-Forwarded-Host: %v, want bypass", res.State)
	}
	if _, err := c.Store(res.Ticket, attack, response(200, "<script src=//evil.example>", "Cache-Control", "max-age=60"), nil); !errors.Is(err, ErrNoTicket) {
		t.Fatalf("storing for a bypassed request: %v", err)
	}
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "Forwarded"} {
		if res := c.Lookup(get("/p", h, "x"), t0, nil); res.State != Bypass {
			t.Fatalf("%s: %v, want bypass", h, res.State)
		}
	}
	// The honest response is stored; a later request with the header is
	// not served from the cache either, and the header never keys a variant.
	if _, err := store(t, c, get("/p"), response(200, "good", "Cache-Control", "max-age=60"), nil); err != nil {
		t.Fatal(err)
	}
	if res := c.Lookup(get("/p", "X-Unrelated", "1"), t0, nil); res.State != Hit || string(res.Entry.Body()) != "good" {
		t.Fatalf("plain request: %v", res.State)
	}
	// Operators can list their own.
	c2 := newCache(t, Config{UncacheableHeaders: []string{"x-tenant"}})
	if res := c2.Lookup(get("/p", "X-Tenant", "a"), t0, nil); res.State != Bypass {
		t.Fatalf("configured header: %v", res.State)
	}
}

// A hash collision must be a miss: the entry is checked against its key.
func TestCollisionIsMiss(t *testing.T) {
	c := newCache(t, Config{})
	e, err := store(t, c, get("/a"), response(200, "a", "Cache-Control", "max-age=60"), nil)
	if err != nil {
		t.Fatal(err)
	}
	other := get("/b")
	c.store.Set(PrimaryKey(other.Method, other.Host, other.Path, other.Query, 0), e, e.cost) // forge a collision
	c.Sync()
	if res := c.Lookup(other, t0, nil); res.State != Miss {
		t.Fatalf("colliding key: %v, want miss", res.State)
	}
}

func TestHostIsCaseInsensitive(t *testing.T) {
	c := newCache(t, Config{})
	if _, err := store(t, c, get("/r"), response(200, "x", "Cache-Control", "max-age=60"), nil); err != nil {
		t.Fatal(err)
	}
	r := get("/r")
	r.Host = []byte("example.com")
	if res := c.Lookup(r, t0, nil); res.State != Hit {
		t.Fatalf("%v", res.State)
	}
	r.Variant = 2 // another coding is another entry
	if res := c.Lookup(r, t0, nil); res.State != Miss {
		t.Fatalf("variant: %v", res.State)
	}
}

func TestPurge(t *testing.T) {
	urls := []string{"/api/users/1", "/api/users/2", "/api", "/apix/1", "/static/a.css", "/q?x=1"}
	tests := []struct {
		name  string
		purge func(c *Cache)
		gone  []string
	}{
		{"url", func(c *Cache) { c.PurgeURL([]byte("example.com"), []byte("/api/users/1"), nil) }, []string{"/api/users/1"}},
		{"url with query", func(c *Cache) { c.PurgeURL([]byte("EXAMPLE.com"), []byte("/q"), []byte("x=1")) }, []string{"/q?x=1"}},
		{"segment prefix", func(c *Cache) { c.PurgePrefix([]byte("example.com"), []byte("/api/users/")) },
			[]string{"/api/users/1", "/api/users/2", "/api"}},
		{"partial segment prefix falls back to host", func(c *Cache) { c.PurgePrefix([]byte("example.com"), []byte("/ap")) }, urls},
		{"host", func(c *Cache) { c.PurgeHost([]byte("example.com")) }, urls},
		{"other host", func(c *Cache) { c.PurgeHost([]byte("other.example")) }, nil},
		{"all", func(c *Cache) { c.PurgeAll() }, urls},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, Config{})
			for _, u := range urls {
				if _, err := store(t, c, get(u), response(200, u, "Cache-Control", "max-age=60"), nil); err != nil {
					t.Fatal(err)
				}
			}
			tt.purge(c)
			gone := map[string]bool{}
			for _, u := range tt.gone {
				gone[u] = true
			}
			for _, u := range urls {
				res := c.Lookup(get(u), t0, nil)
				if (res.State == Hit) == gone[u] {
					t.Errorf("%s: %v after purge (purged: %v)", u, res.State, gone[u])
				}
				c.Fail(res.Ticket)
			}
		})
	}
}

// A response fetched before a purge and stored after it is obsolete.
func TestPurgeDuringFetch(t *testing.T) {
	c := newCache(t, Config{})
	req := get("/r")
	res := c.Lookup(req, t0, nil)
	c.PurgeURL(req.Host, req.Path, req.Query)
	e, err := c.Store(res.Ticket, req, response(200, "old", "Cache-Control", "max-age=60"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Complete(res.Ticket, e)
	c.Sync()
	if res := c.Lookup(req, t0, nil); res.State != Miss {
		t.Fatalf("%v, want miss", res.State)
	}
	if c.Fits(e, req) {
		t.Fatal("a purged entry fits")
	}
}

type chanWaiter struct{ ch chan *Entry }

func (w *chanWaiter) Resume(e *Entry) {
	if w.ch != nil {
		w.ch <- e
	}
}

// N concurrent misses make one upstream request.
func TestCoalescing(t *testing.T) {
	c := newCache(t, Config{})
	const n = 50
	var upstream atomic.Int64
	var served atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := get("/slow")
			w := &chanWaiter{ch: make(chan *Entry, 1)}
			<-start
			res := c.Lookup(req, t0, w)
			switch {
			case res.State == Hit:
				served.Add(1)
			case res.Leader:
				upstream.Add(1)
				e, err := c.Store(res.Ticket, req, response(200, "once", "Cache-Control", "max-age=60"), nil)
				if err != nil {
					t.Error(err)
				}
				c.Complete(res.Ticket, e)
				served.Add(1)
			case res.State == Wait:
				e := <-w.ch
				if !c.Fits(e, req) || string(e.Body()) != "once" {
					t.Error("follower got an unusable entry")
				}
				served.Add(1)
			default:
				t.Errorf("unexpected %v", res.State)
			}
		}()
	}
	close(start)
	wg.Wait()
	if upstream.Load() != 1 || served.Load() != n {
		t.Fatalf("upstream saw %d requests, %d served; want 1 and %d", upstream.Load(), served.Load(), n)
	}
}

func TestCoalescingFailureAndCancel(t *testing.T) {
	c := newCache(t, Config{CoalesceTimeout: time.Second})
	leader := c.Lookup(get("/f"), t0, nil)
	if !leader.Leader {
		t.Fatal("first miss is not the leader")
	}
	w1 := &chanWaiter{ch: make(chan *Entry, 1)}
	w2 := &chanWaiter{ch: make(chan *Entry, 1)}
	if r := c.Lookup(get("/f"), t0, w1); r.State != Wait {
		t.Fatalf("follower: %v", r.State)
	}
	r2 := c.Lookup(get("/f"), t0, w2)
	if r := c.Lookup(get("/f"), t0, nil); r.State != Miss || r.Leader {
		t.Fatalf("nil waiter: %v leader=%v, want an uncoalesced miss", r.State, r.Leader)
	}
	if !c.Cancel(r2.Ticket, w2) {
		t.Fatal("cancel failed")
	}
	if c.Cancel(r2.Ticket, w2) {
		t.Fatal("cancelled twice")
	}
	c.Fail(leader.Ticket)
	if e := <-w1.ch; e != nil {
		t.Fatal("failed flight resumed with an entry")
	}
	select {
	case <-w2.ch:
		t.Fatal("cancelled waiter resumed")
	default:
	}
	// An overdue leader is replaced; its late Complete is ignored and its
	// waiters move to the new leader.
	old := c.Lookup(get("/g"), t0, nil)
	w3 := &chanWaiter{ch: make(chan *Entry, 1)}
	c.Lookup(get("/g"), t0, w3)
	next := c.Lookup(get("/g"), t0.Add(2*time.Second), nil)
	if !next.Leader {
		t.Fatal("overdue flight not taken over")
	}
	c.Complete(old.Ticket, &Entry{})
	select {
	case <-w3.ch:
		t.Fatal("late Complete resumed waiters")
	default:
	}
	c.Fail(next.Ticket)
	if e := <-w3.ch; e != nil {
		t.Fatal("unexpected entry")
	}
}

func TestHitDoesNotAllocate(t *testing.T) {
	c := newCache(t, Config{})
	body := strings.Repeat("x", 4096)
	req := get("/hit?a=1", "Accept-Encoding", "gzip")
	if _, err := store(t, c, req, response(200, body, "Cache-Control", "max-age=600", "Content-Type", "text/html", "Vary", "Accept-Encoding"), nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 8192)
	now := t0.Add(time.Second)
	n := testing.AllocsPerRun(1000, func() {
		res := c.Lookup(req, now, nil)
		if res.State != Hit {
			t.Fatal(res.State)
		}
		buf = res.Entry.AppendResponse(buf[:0], now, false)
	})
	// Ristretto records accesses in 64-slot batches and allocates a new
	// batch slice once per 64 hits (amortized 8 B/hit, rounded away by
	// AllocsPerRun); the race detector makes sync.Pool drop stripes, so
	// the count is only meaningful without it.
	if n != 0 && !raceEnabled {
		t.Fatalf("a hit allocates %.1f times", n)
	}
}

func BenchmarkHit(b *testing.B) {
	for _, tc := range []struct {
		name string
		vary string
	}{{"plain", ""}, {"vary", "Accept-Encoding"}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newCache(b, Config{})
			req := get("/api/v1/items?page=2", "Accept-Encoding", "gzip", "User-Agent", "bench")
			kv := []string{"Cache-Control", "max-age=600", "Content-Type", "application/json"}
			if tc.vary != "" {
				kv = append(kv, "Vary", tc.vary)
			}
			if _, err := store(b, c, req, response(200, strings.Repeat("x", 1024), kv...), nil); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 4096)
			now := t0.Add(time.Second)
			b.ReportAllocs()
			for b.Loop() {
				res := c.Lookup(req, now, nil)
				buf = res.Entry.AppendResponse(buf[:0], now, false)
			}
		})
	}
}

func BenchmarkPrimaryKey(b *testing.B) {
	m, h, p, q := []byte("GET"), []byte("Example.com"), []byte("/api/v1/items"), []byte("page=2")
	b.ReportAllocs()
	for b.Loop() {
		PrimaryKey(m, h, p, q, 0)
	}
}

func TestKeysDoNotAllocate(t *testing.T) {
	m, h, p, q := []byte("GET"), []byte("Example.com"), []byte("/api/v1/items"), []byte("page=2")
	hg := hdrs("Accept-Encoding", "gzip")
	names := []string{"accept-encoding"}
	if n := testing.AllocsPerRun(100, func() {
		VariantKey(PrimaryKey(m, h, p, q, 1), names, hg)
	}); n != 0 {
		t.Fatalf("keys allocate %.1f", n)
	}
	if PrimaryKey(m, h, p, q, 0) != PrimaryKey([]byte("HEAD"), []byte("example.COM"), p, q, 0) {
		t.Fatal("HEAD or host case changes the key")
	}
	if PrimaryKey(m, h, p, nil, 0) == PrimaryKey(m, h, p, q, 0) {
		t.Fatal("query not keyed")
	}
}

func TestStoreCookieRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp   []string
		policy Policy
		err    error
	}{
		{name: "no-freshness", resp: nil, policy: Policy{DefaultTTL: time.Minute}, err: ErrCookie},
		{name: "max-age", resp: []string{"Cache-Control", "max-age=60"}},
		{name: "public", resp: []string{"Cache-Control", "public"}, policy: Policy{DefaultTTL: time.Minute}},
		{name: "expires", resp: []string{"Date", date(0), "Expires", date(time.Hour)}},
		{name: "allowed", resp: nil, policy: Policy{DefaultTTL: time.Minute, StoreCookieRequests: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{})
			req := get("/r", "Cookie", "session=alice")
			_, err := store(t, c, req, response(200, "body", tc.resp...), &tc.policy)
			if err != tc.err {
				t.Fatalf("Store: %v, want %v", err, tc.err)
			}
		})
	}
}

// TestStoredStatusLine: a stored 414 keeps the phrase the engine writes
// for its own 414 (parser.StatusText, RFC 9110), not net/http's older one.
func TestStoredStatusLine(t *testing.T) {
	c := newCache(t, Config{})
	e, err := store(t, c, get("/long"), response(414, "x", "Cache-Control", "max-age=60", "Content-Length", "1"), &Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.AppendResponse(nil, t0, false)); !strings.HasPrefix(got, "HTTP/1.1 414 URI Too Long\r\n") {
		t.Fatalf("stored status line: %q", got)
	}
}
