package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Attacks on what a request means to the gateway against what it means to
// the upstream behind it. Every test checks what a real upstream (net/http,
// which decodes and frames as most application servers do) received.

// seenRequest is one request as the upstream parsed it.
type seenRequest struct {
	Method string
	Target string // the request-target as received (RequestURI)
	Path   string // as the upstream decoded it (URL.Path)
	Host   string
	Header http.Header
	Body   string
}

// recordingUpstream is a net/http upstream that records every request it
// parses, answering 200 with X-Upstream: name.
type recordingUpstream struct {
	*httpUpstream
	name string
	mu   sync.Mutex
	seen []seenRequest
}

func newRecordingUpstream(t *testing.T, name string) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{name: name}
	u.httpUpstream = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{
			Method: r.Method, Target: r.RequestURI, Path: r.URL.Path, Host: r.Host,
			Header: r.Header.Clone(), Body: string(body),
		})
		u.mu.Unlock()
		w.Header().Set("X-Upstream", name)
		_, _ = io.WriteString(w, "ok")
	})
	return u
}

func (u *recordingUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

// last returns the last request the upstream received, failing when none.
func (u *recordingUpstream) last(t *testing.T) seenRequest {
	t.Helper()
	rs := u.requests()
	if len(rs) == 0 {
		t.Fatalf("upstream %s received no request", u.name)
	}
	return rs[len(rs)-1]
}

// TestConnectionCannotRemoveFraming: a client that names Content-Length in
// Connection must not get its body forwarded without it (the upstream
// would read the body as a second request, past any route or auth check).
func TestConnectionCannotRemoveFraming(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /public/*rest
    upstream: app
`, up.addr)))
	for _, tc := range []struct {
		name       string
		connection string
	}{
		{name: "content-length", connection: "Content-Length"},
		{name: "mixed-case-list", connection: "keep-alive, content-LENGTH"},
		{name: "host", connection: "Host, Content-Length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.requests())
			smuggled := "GET /private/x HTTP/1.1\r\nHost: gw\r\n\r\n"
			c := dial(t, srv)
			br := bufio.NewReader(c)
			raw := "POST /public/a HTTP/1.1\r\nHost: gw\r\nConnection: " + tc.connection +
				"\r\nContent-Length: " + fmt.Sprint(len(smuggled)) + "\r\n\r\n" + smuggled
			resp := roundTrip(t, c, br, raw, "POST")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			readBody(t, resp)
			got := up.requests()[before:]
			if len(got) != 1 {
				t.Fatalf("upstream saw %d requests, want 1: %+v", len(got), got)
			}
			if got[0].Method != "POST" || got[0].Body != smuggled {
				t.Fatalf("upstream saw %s with body %q, want POST with the smuggled text as its body", got[0].Method, got[0].Body)
			}
			if got[0].Host != "gw" && !strings.HasPrefix(got[0].Host, "127.0.0.1") {
				t.Fatalf("upstream Host %q", got[0].Host)
			}
		})
	}
}

// TestResponseConnectionCannotRemoveFraming: the same attack from an
// upstream's response would leave the client reading a body without its
// length; the next response on the connection would be misread.
func TestResponseConnectionCannotRemoveFraming(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := range 2 {
		resp := roundTrip(t, c, br, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n", "GET")
		if resp.ContentLength != 5 {
			t.Fatalf("response %d: Content-Length %d, want 5", i, resp.ContentLength)
		}
		if body := readBody(t, resp); body != "hello" {
			t.Fatalf("response %d: body %q", i, body)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := br.Read(make([]byte, 1)); n != 0 {
		t.Fatal("bytes after the second response")
	}
}
