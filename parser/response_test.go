package parser

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestResponseFields(t *testing.T) {
	var r Response
	n, err := r.Parse([]byte(chunkedResponse), false)
	if err != nil || n != len(chunkedResponseHead) {
		t.Fatalf("Parse: %d, %v", n, err)
	}
	if r.Status != 200 || string(r.Reason) != "OK" || r.Minor != 1 || r.Body != BodyChunked || !r.KeepAlive ||
		string(r.ContentType) != "application/json" || string(r.CacheControl) != "no-cache, private" ||
		string(r.TransferEncoding) != "chunked" || string(r.Connection) != "keep-alive" || r.ContentLength != -1 {
		t.Errorf("got %s", describeResponse(&r))
	}
	if string(r.Header("SERVER")) != "hotecho" || len(r.Headers) != 8 {
		t.Errorf("Header(SERVER) %q, %d headers", r.Header("SERVER"), len(r.Headers))
	}
}

func TestResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		head  bool
		body  BodyKind
		cl    int64
		keep  bool
		check func(*Response) string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, BodyLength, 5, true, nil},
		{"content-length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, BodyNone, 0, true, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, BodyChunked, -1, true, nil},
		{"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", false, BodyClose, -1, false, nil},
		{"TE not chunked is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, BodyClose, -1, false, nil},
		{"TE unknown is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", false, BodyClose, -1, false, nil},
		{"HEAD with length", "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true, BodyNone, 500, true, nil},
		{"HEAD with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, BodyNone, -1, true, nil},
		{"HEAD bare", "HTTP/1.1 200 OK\r\n\r\n", true, BodyNone, -1, true, nil},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", false, BodyNone, -1, true, nil},
		{"101 switching", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, BodyNone, -1, true,
			func(r *Response) string {
				if string(r.Upgrade) != "websocket" {
					return "Upgrade " + string(r.Upgrade)
				}
				return ""
			}},
		{"103 early hints", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", false, BodyNone, -1, true, nil},
		{"204", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, BodyNone, 10, true, nil},
		{"304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, BodyNone, -1, true, nil},
		{"1.0 default", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, BodyLength, 1, false, nil},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", false, BodyLength, 1, true, nil},
		{"1.0 chunked is close-delimited", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", false, BodyClose, -1, false, nil},
		{"close", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", false, BodyLength, 1, false, nil},
		{"no reason", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", false, BodyLength, 1, true,
			func(r *Response) string {
				if len(r.Reason) != 0 {
					return "Reason " + string(r.Reason)
				}
				return ""
			}},
		{"empty reason", "HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\n", false, BodyLength, 1, true, nil},
		{"reason with spaces", "HTTP/1.1 500 Internal Server  Error\r\nContent-Length: 1\r\n\r\n", false, BodyLength, 1, true,
			func(r *Response) string {
				if string(r.Reason) != "Internal Server  Error" || r.Status != 500 {
					return "Reason " + string(r.Reason)
				}
				return ""
			}},
		{"content-encoding", "HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\n", false, BodyLength, 1, true,
			func(r *Response) string {
				if string(r.ContentEncoding) != "br" {
					return "ContentEncoding " + string(r.ContentEncoding)
				}
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			n, err := r.Parse([]byte(tc.in), tc.head)
			if err != nil || n != len(tc.in) {
				t.Fatalf("Parse: %d, %v", n, err)
			}
			if r.Body != tc.body || r.ContentLength != tc.cl || r.KeepAlive != tc.keep {
				t.Errorf("Body %d CL %d KeepAlive %v, want %d %d %v", r.Body, r.ContentLength, r.KeepAlive, tc.body, tc.cl, tc.keep)
			}
			if tc.check != nil {
				if s := tc.check(&r); s != "" {
					t.Error(s)
				}
			}
		})
	}
}

func TestResponseReject(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		err    error
		status int
	}{
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrContentLengthWithTransferEncoding, 400},
		{"two CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", ErrDuplicateContentLength, 400},
		{"CL sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", ErrInvalidContentLength, 400},
		{"CL overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", ErrContentLengthOverflow, 400},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedTwice, 400},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", ErrVersionNotSupported, 505},
		{"bad version", "HTTP/1.x 200 OK\r\n\r\n", ErrInvalidVersion, 400},
		{"no space", "HTTP/1.1200 OK\r\n\r\n", ErrInvalidVersion, 400},
		{"status letters", "HTTP/1.1 2xx OK\r\n\r\n", ErrInvalidStatus, 400},
		{"status 4 digits", "HTTP/1.1 2000 OK\r\n\r\n", ErrInvalidStatus, 400},
		{"status 099", "HTTP/1.1 099 OK\r\n\r\n", ErrInvalidStatus, 400},
		{"reason control", "HTTP/1.1 200 O\x01K\r\n\r\n", ErrInvalidReason, 400},
		{"reason lone CR", "HTTP/1.1 200 O\rK\r\n\r\n", ErrLoneCR, 400},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", ErrBareLF, 400},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ErrObsFold, 400},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", ErrSpaceBeforeColon, 400},
		{"NUL in value", "HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n", ErrInvalidHeaderValue, 400},
		{"too large", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", DefaultMaxHead) + "\r\n\r\n", ErrHeadTooLarge, 431},
		{"too many", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: a\r\n", DefaultMaxHeaders+1) + "\r\n", ErrTooManyHeaders, 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			_, err := r.Parse([]byte(tc.in), false)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: %v, want %v", err, tc.err)
			}
			if got := Status(err); got != tc.status {
				t.Errorf("Status = %d, want %d", got, tc.status)
			}
		})
	}
}

func describeResponse(r *Response) string {
	var s strings.Builder
	fmt.Fprintf(&s, "1.%d %d %q\n", r.Minor, r.Status, r.Reason)
	for _, h := range r.Headers {
		fmt.Fprintf(&s, "%q: %q\n", h.Name, h.Value)
	}
	fmt.Fprintf(&s, "cl %q te %q conn %q up %q cc %q ce %q ct %q\n", r.ContentLengthRaw, r.TransferEncoding,
		r.Connection, r.Upgrade, r.CacheControl, r.ContentEncoding, r.ContentType)
	fmt.Fprintf(&s, "len %d body %d ka %v", r.ContentLength, r.Body, r.KeepAlive)
	return s.String()
}

func TestResponseByteAtATime(t *testing.T) {
	for name, in := range map[string]string{
		"chunked":   chunkedResponseHead,
		"no reason": "HTTP/1.1 204\r\nX: y\r\n\r\n",
		"reject":    "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			var one, inc Response
			n1, err1 := one.Parse([]byte(in), false)
			n2, err2 := 0, ErrNeedMore
			for k := 0; k <= len(in) && err2 == ErrNeedMore; k++ {
				n2, err2 = inc.Parse(append([]byte(nil), in[:k]...), false)
			}
			if n1 != n2 || err1 != err2 {
				t.Fatalf("one-shot (%d, %v), incremental (%d, %v)", n1, err1, n2, err2)
			}
			if d := diffStrings(describeResponse(&one), describeResponse(&inc)); d != "" {
				t.Errorf("incremental differs: %s", d)
			}
		})
	}
}

func TestResponseAllocs(t *testing.T) {
	buf := []byte(chunkedResponse)
	var r Response
	var c Chunked
	if n := testing.AllocsPerRun(100, func() {
		r.Reset()
		n, err := r.Parse(buf, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Reset()
		if _, done, err := c.Skip(buf[n:]); err != nil || !done {
			t.Fatal(done, err)
		}
	}); n != 0 {
		t.Errorf("%v allocs per response", n)
	}
}
