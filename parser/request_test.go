package parser

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const browserGET = "GET /search/results?q=hotpath+gateway&lang=en HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=2f1e4b7a9c0d3e5f; theme=dark; consent=yes\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Priority: u=0, i\r\n" +
	"\r\n"

func mustParse(t *testing.T, in string) *Request {
	t.Helper()
	var r Request
	n, err := r.Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse(%q): %v", in, err)
	}
	if n != len(in) {
		t.Fatalf("Parse(%q) consumed %d of %d", in, n, len(in))
	}
	return &r
}

func TestRequestFields(t *testing.T) {
	r := mustParse(t, browserGET)
	check := func(name string, got []byte, want string) {
		t.Helper()
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	check("Method", r.Method, "GET")
	check("Target", r.Target, "/search/results?q=hotpath+gateway&lang=en")
	check("Path", r.Path, "/search/results")
	check("Query", r.Query, "q=hotpath+gateway&lang=en")
	check("Host", r.Host, "www.example.com")
	check("Connection", r.Connection, "keep-alive")
	check("AcceptEncoding", r.AcceptEncoding, "gzip, deflate, br, zstd")
	if r.Minor != 1 || !r.KeepAlive || r.Body != BodyNone || r.ContentLength != -1 || r.IsHead || r.Expect100 {
		t.Errorf("Minor %d KeepAlive %v Body %v CL %d IsHead %v Expect100 %v", r.Minor, r.KeepAlive, r.Body, r.ContentLength, r.IsHead, r.Expect100)
	}
	if len(r.Headers) != 13 {
		t.Errorf("%d headers, want 13", len(r.Headers))
	}
	check("Header(cookie)", r.Header("cookie"), "session=2f1e4b7a9c0d3e5f; theme=dark; consent=yes")
	if r.Query == nil || r.Upgrade != nil || r.Expect != nil {
		t.Errorf("Query %q Upgrade %q Expect %q", r.Query, r.Upgrade, r.Expect)
	}
}

func TestRequestRecognised(t *testing.T) {
	in := "POST /api HTTP/1.1\r\nHOST: a\r\ncontent-LENGTH: 12\r\nExpect: 100-Continue\r\nUpgrade: websocket\r\n" +
		"Cache-Control: no-cache\r\nAuthorization: Bearer x\r\nConnection: Upgrade\r\nConnection: close\r\n\r\n"
	r := mustParse(t, in)
	if string(r.Host) != "a" || string(r.ContentLengthRaw) != "12" || r.ContentLength != 12 || r.Body != BodyLength {
		t.Errorf("Host %q CL %q %d Body %v", r.Host, r.ContentLengthRaw, r.ContentLength, r.Body)
	}
	if !r.Expect100 || string(r.Upgrade) != "websocket" || string(r.CacheControl) != "no-cache" ||
		string(r.Authorization) != "Bearer x" || string(r.Connection) != "Upgrade" || r.KeepAlive {
		t.Errorf("Expect100 %v Upgrade %q CC %q Auth %q Conn %q KeepAlive %v", r.Expect100, r.Upgrade, r.CacheControl, r.Authorization, r.Connection, r.KeepAlive)
	}
	r = mustParse(t, "HEAD / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
	if !r.IsHead || r.Body != BodyChunked || string(r.TransferEncoding) != "gzip" {
		t.Errorf("IsHead %v Body %v TE %q", r.IsHead, r.Body, r.TransferEncoding)
	}
	r = mustParse(t, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
	if r.Body != BodyNone || r.ContentLength != 0 {
		t.Errorf("CL 0: Body %v CL %d", r.Body, r.ContentLength)
	}
	r = mustParse(t, "GET /p? HTTP/1.1\r\nHost:\r\nX:  \t v \t \r\n\r\n")
	if r.Query == nil || len(r.Query) != 0 || r.Host == nil || len(r.Host) != 0 || string(r.Header("x")) != "v" {
		t.Errorf("Query %q Host %q X %q", r.Query, r.Host, r.Header("x"))
	}
}

func TestRequestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     bool
	}{
		{"1.1 default", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"1.1 close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
		{"1.1 close in list", "GET / HTTP/1.1\r\nHost: h\r\nConnection: te, CLOSE\r\n\r\n", false},
		{"1.1 close second field", "GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nConnection: close\r\n\r\n", false},
		{"1.0 default", "GET / HTTP/1.0\r\n\r\n", false},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, tc.in).KeepAlive; got != tc.want {
				t.Errorf("KeepAlive = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestReject(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxRequestLine)
	many := strings.Repeat("X-A: b\r\n", DefaultMaxHeaders+1)
	big := "X-Big: " + strings.Repeat("v", DefaultMaxHead) + "\r\n"
	for _, tc := range []struct {
		name   string
		in     string
		err    error
		status int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrContentLengthWithTransferEncoding, 400},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", ErrContentLengthWithTransferEncoding, 400},
		{"two CL equal", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", ErrDuplicateContentLength, 400},
		{"two CL differ", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", ErrDuplicateContentLength, 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", ErrDuplicateContentLength, 400},
		{"CL plus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", ErrInvalidContentLength, 400},
		{"CL minus", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", ErrInvalidContentLength, 400},
		{"CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", ErrInvalidContentLength, 400},
		{"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", ErrInvalidContentLength, 400},
		{"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", ErrInvalidContentLength, 400},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", ErrContentLengthOverflow, 400},
		{"TE gzip only", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", ErrChunkedNotFinal, 400},
		{"TE chunked then gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrChunkedNotFinal, 400},
		{"TE chunked then gzip fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", ErrChunkedNotFinal, 400},
		{"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", ErrChunkedNotFinal, 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedTwice, 400},
		{"TE chunked twice fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrChunkedTwice, 400},
		{"TE unknown", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", ErrUnknownTransferCoding, 501},
		{"TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n", ErrUnknownTransferCoding, 501},
		{"TE chunked-false", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", ErrChunkedNotFinal, 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferEncodingHTTP10, 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", ErrObsFold, 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n", ErrObsFold, 400},
		{"space before first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", ErrObsFold, 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", ErrSpaceBeforeColon, 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", ErrSpaceBeforeColon, 400},
		{"TE space before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", ErrSpaceBeforeColon, 400},
		{"bad name byte", "GET / HTTP/1.1\r\nHost: h\r\nX(A): b\r\n\r\n", ErrInvalidHeaderName, 400},
		{"name with slash", "GET / HTTP/1.1\r\nHost: h\r\nX/A: b\r\n\r\n", ErrInvalidHeaderName, 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nXA\r\n\r\n", ErrInvalidHeaderName, 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n", ErrEmptyHeaderName, 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", ErrInvalidHeaderValue, 400},
		{"ctl in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", ErrInvalidHeaderValue, 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", ErrInvalidHeaderValue, 400},
		{"ESC in long value", "GET / HTTP/1.1\r\nHost: h\r\nX: aaaaaaaaaaaaaaaaaa\x1bb\r\n\r\n", ErrInvalidHeaderValue, 400},
		{"lone CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", ErrLoneCR, 400},
		{"lone CR line end", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rX: b\r\n\r\n", ErrLoneCR, 400},
		{"lone CR request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"lone CR final", "GET / HTTP/1.1\r\nHost: h\r\n\rX\r\n", ErrLoneCR, 400},
		{"lone CR leading", "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", ErrLoneCR, 400},
		{"bare LF field", "GET / HTTP/1.1\r\nHost: h\nX: b\r\n\r\n", ErrBareLF, 400},
		{"bare LF request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", ErrBareLF, 400},
		{"bare LF final", "GET / HTTP/1.1\r\nHost: h\r\n\n", ErrBareLF, 400},
		{"bare LF leading", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ErrBareLF, 400},
		{"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidMethod, 400},
		{"bad method byte", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidMethod, 400},
		{"method tab", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidMethod, 400},
		{"target space", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidTarget, 400},
		{"target control", "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidTarget, 400},
		{"target NUL", "GET /a\x00 HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidTarget, 400},
		{"target DEL", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidTarget, 400},
		{"target tab", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidTarget, 400},
		{"no version", "GET /\r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"version junk", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"version letters", "GET / HTTP/a.b\r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"version trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", ErrInvalidVersion, 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", ErrVersionNotSupported, 505},
		{"HTTP/3.1", "GET / HTTP/3.1\r\nHost: h\r\n\r\n", ErrVersionNotSupported, 505},
		{"Host space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ErrInvalidHost, 400},
		{"Host userinfo", "GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n", ErrInvalidHost, 400},
		{"Host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ErrInvalidHost, 400},
		{"Host backslash", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", ErrInvalidHost, 400},
		{"Host bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", ErrInvalidHost, 400},
		{"Host open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ErrInvalidHost, 400},
		{"Host quote", "GET / HTTP/1.1\r\nHost: \"a\"\r\n\r\n", ErrInvalidHost, 400},
		{"absolute-form userinfo", "GET http://user@h/ HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidHost, 400},
		{"absolute-form no authority", "GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n", ErrInvalidHost, 400},
		{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", ErrVersionNotSupported, 505},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrHTTP2Preface, 400},
		{"URI too long", "GET /" + long + " HTTP/1.1\r\nHost: h\r\n\r\n", ErrURITooLong, 414},
		{"too many headers", "GET / HTTP/1.1\r\nHost: h\r\n" + many + "\r\n", ErrTooManyHeaders, 431},
		{"head too large", "GET / HTTP/1.1\r\nHost: h\r\n" + big + "\r\n", ErrHeadTooLarge, 431},
		{"missing Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", ErrMissingHost, 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", ErrDuplicateHost, 400},
		{"two Hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", ErrDuplicateHost, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			_, err := r.Parse([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: %v, want %v", err, tc.err)
			}
			if got := Status(err); got != tc.status {
				t.Errorf("Status = %d, want %d", got, tc.status)
			}
			// Errors are sticky.
			if _, err2 := r.Parse([]byte(tc.in)); err2 != err {
				t.Errorf("second Parse: %v, want %v", err2, err)
			}
		})
	}
}

func TestRequestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  Limits
		in   string
		err  error
	}{
		{"line at limit", Limits{MaxRequestLine: 18}, "GET /0123 HTTP/1.1\r\nHost: h\r\n\r\n", nil},
		{"line over limit", Limits{MaxRequestLine: 18}, "GET /01234 HTTP/1.1\r\nHost: h\r\n\r\n", ErrURITooLong},
		{"line over limit partial", Limits{MaxRequestLine: 16}, "GET /0123456789abcdef", ErrURITooLong},
		{"head at limit", Limits{MaxHead: 27}, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", nil},
		{"head over limit", Limits{MaxHead: 26}, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", ErrHeadTooLarge},
		{"head over limit partial", Limits{MaxHead: 20}, "GET / HTTP/1.1\r\nHost: hhhhhhhhhhhhh", ErrHeadTooLarge},
		{"leading lines count", Limits{MaxHead: 28}, "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ErrHeadTooLarge},
		{"headers at limit", Limits{MaxHeaders: 2}, "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n", nil},
		{"headers over limit", Limits{MaxHeaders: 2}, "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\nC: d\r\n\r\n", ErrTooManyHeaders},
		{"headers clamped", Limits{MaxHeaders: 1000}, "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("A: b\r\n", MaxHeadersCap) + "\r\n", ErrTooManyHeaders},
		{"bare LF allowed", Limits{AllowBareLF: true}, "\nGET / HTTP/1.1\nHost: h\nX: y\r\n\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Limits: tc.lim}
			_, err := r.Parse([]byte(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: %v, want %v", err, tc.err)
			}
		})
	}
}

func TestRequestLeadingEmptyLines(t *testing.T) {
	in := "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"
	r := mustParse(t, in)
	if string(r.Method) != "GET" || string(r.Target) != "/" {
		t.Errorf("Method %q Target %q", r.Method, r.Target)
	}
}

// parseIncremental feeds in one byte more at a time, each time in a fresh
// copy so that offsets, not pointers, must carry the state.
func parseIncremental(r *Request, in []byte) (int, error) {
	for k := 0; k <= len(in); k++ {
		buf := append([]byte(nil), in[:k]...)
		n, err := r.Parse(buf)
		if err != ErrNeedMore {
			return n, err
		}
	}
	return 0, ErrNeedMore
}

func TestRequestByteAtATime(t *testing.T) {
	for name, in := range map[string]string{
		"browser":  browserGET,
		"post":     apiPOST,
		"many":     manyHeaders,
		"leading":  "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"reject":   "GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n",
		"too long": "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			var one, inc Request
			n1, err1 := one.Parse([]byte(in))
			n2, err2 := parseIncremental(&inc, []byte(in))
			if n1 != n2 || err1 != err2 {
				t.Fatalf("one-shot (%d, %v), incremental (%d, %v)", n1, err1, n2, err2)
			}
			if err1 == nil {
				if d := diffRequest(&one, &inc); d != "" {
					t.Errorf("incremental differs: %s", d)
				}
			}
		})
	}
}

// diffRequest describes how a and b differ, or returns "".
func diffRequest(a, b *Request) string {
	return diffStrings(describeRequest(a), describeRequest(b))
}

func describeRequest(r *Request) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%q %q %q %q 1.%d\n", r.Method, r.Target, r.Path, r.Query, r.Minor)
	for _, h := range r.Headers {
		fmt.Fprintf(&s, "%q: %q\n", h.Name, h.Value)
	}
	fmt.Fprintf(&s, "host %q cl %q te %q conn %q up %q exp %q cc %q ae %q auth %q\n", r.Host, r.ContentLengthRaw,
		r.TransferEncoding, r.Connection, r.Upgrade, r.Expect, r.CacheControl, r.AcceptEncoding, r.Authorization)
	fmt.Fprintf(&s, "len %d body %d ka %v e100 %v head %v", r.ContentLength, r.Body, r.KeepAlive, r.Expect100, r.IsHead)
	return s.String()
}

func diffStrings(a, b string) string {
	if a == b {
		return ""
	}
	return fmt.Sprintf("\n%s\nvs\n%s", a, b)
}

func TestRequestPipelined(t *testing.T) {
	in := "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nworld\r\n0\r\nT: v\r\n\r\n" +
		"\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /e HTT"
	buf := []byte(in)
	var r Request
	var paths []string
	var bodies []string
	for {
		r.Reset()
		n, err := r.Parse(buf)
		if err == ErrNeedMore {
			break
		}
		if err != nil {
			t.Fatalf("Parse after %v: %v", paths, err)
		}
		paths = append(paths, string(r.Path))
		buf = buf[n:]
		switch r.Body {
		case BodyLength:
			bodies = append(bodies, string(buf[:r.ContentLength]))
			buf = buf[r.ContentLength:]
		case BodyChunked:
			var c Chunked
			var body []byte
			for {
				m, data, done, err := c.Decode(buf)
				if err != nil {
					t.Fatal(err)
				}
				body = append(body, data...)
				buf = buf[m:]
				if done {
					break
				}
			}
			bodies = append(bodies, string(body))
		}
	}
	if got := strings.Join(paths, ","); got != "/a,/b,/c,/d" {
		t.Errorf("paths %s", got)
	}
	if got := strings.Join(bodies, ","); got != "hello,world" {
		t.Errorf("bodies %s", got)
	}
	if string(buf) != "GET /e HTT" {
		t.Errorf("left %q", buf)
	}
}

func TestRequestHeaderLookup(t *testing.T) {
	r := mustParse(t, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\nContent-Type: a/b\r\n\r\n")
	for _, tc := range []struct{ name, want string }{
		{"x-forwarded-for", "1.2.3.4"},
		{"X-FORWARDED-FOR", "1.2.3.4"},
		{"X-Forwarded-For", "1.2.3.4"},
		{"content-TYPE", "a/b"},
		{"HOST", "h"},
	} {
		if got := r.Header(tc.name); string(got) != tc.want {
			t.Errorf("Header(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"x-forwarded-fo", "x-forwarded-forr", "content_type", ""} {
		if got := r.Header(name); got != nil {
			t.Errorf("Header(%q) = %q, want nil", name, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = r.Header("X-FORWARDED-FOR") }); n != 0 {
		t.Errorf("Header allocates %v", n)
	}
}

func TestHasTokenEqualFold(t *testing.T) {
	for _, tc := range []struct {
		list, tok string
		want      bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Upgrade", "upgrade", true},
		{" , ,  CLOSE ;x=1 ,", "close", true},
		{"closed", "close", false},
		{"", "close", false},
		{"gzip, chunked", "chunked", true},
		{"gzip,chunkedx", "chunked", false},
	} {
		if got := HasToken([]byte(tc.list), tc.tok); got != tc.want {
			t.Errorf("HasToken(%q, %q) = %v", tc.list, tc.tok, got)
		}
	}
	if !EqualFold([]byte("Content-Length"), "content-LENGTH") || EqualFold([]byte("a"), "b") ||
		EqualFold([]byte("@"), "`") || EqualFold([]byte("ab"), "a") {
		t.Error("EqualFold")
	}
	if n := testing.AllocsPerRun(100, func() { _ = HasToken([]byte("a, b, Close"), "close") }); n != 0 {
		t.Errorf("HasToken allocates %v", n)
	}
}

func TestRequestAllocs(t *testing.T) {
	for name, in := range map[string]string{"browser": browserGET, "post": apiPOST, "many": manyHeaders} {
		buf := []byte(in)
		var r Request
		if n := testing.AllocsPerRun(100, func() {
			r.Reset()
			if _, err := r.Parse(buf); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocs per Parse", name, n)
		}
		// A partial head, resumed.
		if n := testing.AllocsPerRun(100, func() {
			r.Reset()
			_, _ = r.Parse(buf[:len(buf)/2])
			_, _ = r.Parse(buf)
		}); n != 0 {
			t.Errorf("%s: %v allocs per resumed Parse", name, n)
		}
	}
}

func TestReserialise(t *testing.T) {
	r := mustParse(t, apiPOST)
	out := appendRequest(nil, &r.Headers, r)
	if !bytes.Equal(out, []byte(apiPOST)) {
		t.Errorf("re-serialised\n%q\nwant\n%q", out, apiPOST)
	}
}

// appendRequest writes r's head back in canonical form.
func appendRequest(dst []byte, hs *[]Header, r *Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.Target...)
	dst = append(dst, " HTTP/1."...)
	dst = append(dst, byte('0'+r.Minor))
	dst = append(dst, "\r\n"...)
	for _, h := range *hs {
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// TestRequestMovedBuffer resumes a head in a buffer that moved, and in one
// with the same start but a different capacity.
func TestRequestMovedBuffer(t *testing.T) {
	in := []byte(manyHeaders)
	var want Request
	if _, err := want.Parse(in); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{30, len(in) / 3, len(in) - 3} {
		var r Request
		a := make([]byte, len(in), 2*len(in))
		copy(a, in)
		if _, err := r.Parse(a[:cut:cut]); err != ErrNeedMore {
			t.Fatal(err)
		}
		if _, err := r.Parse(a[:cut+1]); err != ErrNeedMore {
			t.Fatal(err)
		}
		b := append([]byte(nil), in...)
		copy(a, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX") // the old buffer is reused
		if n, err := r.Parse(b); err != nil || n != len(in) {
			t.Fatalf("cut %d: %d, %v", cut, n, err)
		}
		if d := diffRequest(&want, &r); d != "" {
			t.Errorf("cut %d: %s", cut, d)
		}
	}
}

// TestRequestTargetsAndHosts: absolute-form targets (RFC 9112 §3.2.2),
// every valid Host form, and later HTTP/1.x versions (RFC 9112 §2.3).
func TestRequestTargetsAndHosts(t *testing.T) {
	for _, tc := range []struct {
		name, in          string
		host, path, query string
		minor             int
	}{
		{name: "absolute-form", in: "GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n", host: "example.com:8080", path: "/a/b", query: "x=1", minor: 1},
		{name: "absolute-form-https-case", in: "GET HTTPS://Example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", host: "Example.com", path: "/", minor: 1},
		{name: "absolute-form-no-path", in: "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", host: "h", path: "/", minor: 1},
		{name: "absolute-form-query-no-path", in: "GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n", host: "h", path: "/", query: "q", minor: 1},
		{name: "host-ipv6", in: "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", host: "[2001:db8::1]:443", path: "/", minor: 1},
		{name: "host-ipv4", in: "GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n", host: "192.0.2.1", path: "/", minor: 1},
		{name: "host-empty", in: "GET / HTTP/1.1\r\nHost: \r\n\r\n", host: "", path: "/", minor: 1},
		{name: "host-sub-delims", in: "GET / HTTP/1.1\r\nHost: a-b_c~d.e%41\r\n\r\n", host: "a-b_c~d.e%41", path: "/", minor: 1},
		{name: "http-1.2", in: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", host: "h", path: "/", minor: 1},
		{name: "http-1.9", in: "GET / HTTP/1.9\r\nHost: h\r\n\r\n", host: "h", path: "/", minor: 1},
		{name: "asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", host: "h", path: "*", minor: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, tc.in)
			if string(r.Host) != tc.host || string(r.Path) != tc.path || string(r.Query) != tc.query || r.Minor != tc.minor {
				t.Fatalf("Host %q Path %q Query %q Minor %d; want %q %q %q %d", r.Host, r.Path, r.Query, r.Minor, tc.host, tc.path, tc.query, tc.minor)
			}
		})
	}
}
