package h2

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// h2cClient is Go's HTTP/2 client (x/net's, bundled in net/http) speaking
// h2c with prior knowledge: net/http's Protocols replaces x/net's
// Transport.AllowHTTP and DialTLS override, which are deprecated.
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestGoClient(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: past every window
	tests := []struct {
		name    string
		body    string
		method  string
		reqBody string
		trailer bool
	}{
		{name: "get", body: "hello", method: "GET"},
		{name: "head", body: "hello", method: "HEAD"},
		{name: "post", body: "ok", method: "POST", reqBody: "some request body"},
		{name: "post-large", body: "ok", method: "POST", reqBody: big},
		{name: "post-trailers", body: "ok", method: "POST", reqBody: "abc", trailer: true},
		{name: "large-response", body: big, method: "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, Limits{}, tc.body)
			cl := h2cClient(t)
			var body io.Reader
			if tc.reqBody != "" {
				body = strings.NewReader(tc.reqBody)
			}
			req, err := http.NewRequest(tc.method, "http://"+s.addr()+"/x?y=1", body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.trailer {
				pr, pw := io.Pipe()
				req.Body = pr
				req.ContentLength = -1
				req.Trailer = http.Header{"X-Checksum": nil}
				go func() {
					io.WriteString(pw, tc.reqBody)
					req.Trailer.Set("X-Checksum", "42")
					pw.Close()
				}()
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
				t.Fatalf("status %d proto %s", resp.StatusCode, resp.Proto)
			}
			want := tc.body
			if tc.method == "HEAD" {
				want = ""
			}
			if string(got) != want {
				t.Fatalf("body: got %d bytes, want %d", len(got), len(want))
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(tc.body)) {
				t.Errorf("content-length %q", cl)
			}
			reqs, trailers, in := s.counts()
			if reqs != 1 || in != int64(len(tc.reqBody)) {
				t.Errorf("server saw %d requests, %d body bytes; want 1, %d", reqs, in, len(tc.reqBody))
			}
			if tc.trailer && trailers != 1 {
				t.Errorf("server saw %d trailer sections, want 1", trailers)
			}
		})
	}
}

// TestGoClientConcurrent sends many requests at once over one connection:
// more than MaxConcurrentStreams, so the client queues on the SETTINGS.
func TestGoClientConcurrent(t *testing.T) {
	s := startServer(t, Limits{MaxConcurrentStreams: 10}, strings.Repeat("z", 100<<10))
	cl := h2cClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			resp, err := cl.Get("http://" + s.addr() + "/")
			if err != nil {
				errs <- err
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && n != 100<<10 {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reqs, _, _ := s.counts(); reqs != 50 {
		t.Errorf("server saw %d requests, want 50", reqs)
	}
}

func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not on PATH (apt-get install curl)")
	}
	s := startServer(t, Limits{}, "hello from h2\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One URL per run: curl 7.88 fails a second request on a reused
	// prior-knowledge connection ("Error in the HTTP2 framing layer"), with
	// x/net's h2c server as well.
	for _, args := range [][]string{
		{"http://" + s.addr() + "/a"},
		{"--data-binary", "request body", "http://" + s.addr() + "/post"},
	} {
		out, err := exec.CommandContext(ctx, curl, append([]string{"-sS", "--http2-prior-knowledge", "-i"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		if !bytes.HasPrefix(out, []byte("HTTP/2 200")) || !bytes.HasSuffix(out, []byte("\r\n\r\nhello from h2\n")) {
			t.Errorf("curl %v: want HTTP/2 200 and the body:\n%s", args, out)
		}
	}
	if reqs, _, in := s.counts(); reqs != 2 || in != int64(len("request body")) {
		t.Errorf("server saw %d requests and %d body bytes, want 2 and %d", reqs, in, len("request body"))
	}
}

func TestH2load(t *testing.T) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		t.Skip("h2load not on PATH (apt-get install nghttp2-client)")
	}
	s := startServer(t, Limits{}, "hello from h2\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h2load, "-n", "2000", "-c", "4", "-m", "10",
		"http://"+s.addr()+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	// "requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout"
	// "status codes: 2000 2xx, ..."
	for _, want := range []string{"2000 succeeded, 0 failed, 0 errored", "status codes: 2000 2xx"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("h2load output lacks %q:\n%s", want, out)
		}
	}
}
