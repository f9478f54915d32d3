package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Conformance items of issue 15, each checked against what a real
// upstream received.

func TestAbsoluteFormTarget(t *testing.T) {
	a, b := newRecordingUpstream(t, "a"), newRecordingUpstream(t, "b")
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - {name: a, endpoints: [{address: %s}]}
  - {name: b, endpoints: [{address: %s}]}
routes:
  - {host: a.test, path: "/*rest", upstream: a, preserve_host: true}
  - {path: "/*rest", upstream: b}
`, a.addr, b.addr)))
	for _, tc := range []struct {
		name, raw, upstream, target, host string
		status                            int
	}{
		{name: "authority-routes", raw: "GET http://a.test/x?y=1 HTTP/1.1\r\nHost: b.test\r\n\r\n", status: 200, upstream: "a", target: "/x?y=1", host: "a.test"},
		{name: "no-path", raw: "GET http://A.TEST HTTP/1.1\r\nHost: a.test\r\n\r\n", status: 200, upstream: "a", target: "/", host: "A.TEST"},
		{name: "https-scheme", raw: "GET https://other.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n", status: 200, upstream: "b", target: "/p"},
		{name: "userinfo", raw: "GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			na, nb := len(a.requests()), len(b.requests())
			c := dial(t, srv)
			resp := roundTrip(t, c, bufio.NewReader(c), tc.raw, "GET")
			readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			var got []seenRequest
			switch tc.upstream {
			case "a":
				got = a.requests()[na:]
			case "b":
				got = b.requests()[nb:]
			default:
				if len(a.requests()) != na || len(b.requests()) != nb {
					t.Fatal("a refused request reached an upstream")
				}
				return
			}
			if len(got) != 1 || got[0].Target != tc.target || (tc.host != "" && got[0].Host != tc.host) {
				t.Fatalf("upstream %s got %+v, want target %q host %q", tc.upstream, got, tc.target, tc.host)
			}
		})
	}
}

func TestInvalidHostRefused(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	for _, host := range []string{"a b", "user@evil.test", "evil.test/x", `a\b`, "a:80x", "[::1"} {
		c := dial(t, srv)
		resp := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n", "GET")
		readBody(t, resp)
		if resp.StatusCode != 400 {
			t.Errorf("Host %q: %d, want 400", host, resp.StatusCode)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream saw %d requests", n)
	}
}

func TestLaterHTTP1MinorVersions(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for _, v := range []string{"1.2", "1.9"} {
		resp := roundTrip(t, c, br, "GET /v HTTP/"+v+"\r\nHost: gw\r\n\r\n", "GET")
		readBody(t, resp)
		if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" {
			t.Fatalf("HTTP/%s: %d %s, want 200 over HTTP/1.1 on a kept connection", v, resp.StatusCode, resp.Proto)
		}
	}
	if n := len(up.requests()); n != 2 {
		t.Fatalf("upstream saw %d requests, want 2", n)
	}
}

// TestEarlyHintsForwarded: a 103 from the upstream reaches an HTTP/1.1
// client before the final response (never an HTTP/1.0 one), without its
// hop-by-hop fields.
func TestEarlyHintsForwarded(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nKeep-Alive: timeout=5\r\n\r\n"+
				"HTTP/1.1 102 Processing\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))

	c := dial(t, srv)
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var heads []string
	for range 3 {
		h, err := readRequestHead(br) // a response head reads the same way
		if err != nil {
			t.Fatalf("after %q: %v", heads, err)
		}
		heads = append(heads, h)
	}
	if !strings.HasPrefix(heads[0], "HTTP/1.1 103 Early Hints\r\n") || !strings.Contains(heads[0], "Link: </style.css>; rel=preload\r\n") ||
		strings.Contains(heads[0], "Keep-Alive") {
		t.Fatalf("first head %q, want the 103 with its Link and without Keep-Alive", heads[0])
	}
	if !strings.HasPrefix(heads[1], "HTTP/1.1 102 Processing\r\n") || !strings.HasPrefix(heads[2], "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("heads %q", heads)
	}

	c10 := dial(t, srv)
	resp := roundTrip(t, c10, bufio.NewReader(c10), "GET / HTTP/1.0\r\nHost: gw\r\n\r\n", "GET")
	if resp.StatusCode != http.StatusOK || readBody(t, resp) != "ok" {
		t.Fatalf("HTTP/1.0 client: %d, want the final 200 only", resp.StatusCode)
	}
}
