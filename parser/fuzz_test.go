package parser

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// Seeds shared by the fuzz targets (besides the files under
// testdata/fuzz/<FuzzName>/): ordinary heads and smuggling attempts.
var requestSeeds = []string{
	browserGET,
	apiPOST,
	manyHeaders,
	"GET / HTTP/1.0\r\n\r\n",
	"\r\nGET /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"GET / HTTP/1.1\nHost: h\n\n",
	"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
	"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET http://example.com/x HTTP/1.1\r\nHost: other\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
}

var responseSeeds = []string{
	chunkedResponse,
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nbody to close",
	"HTTP/1.1 200\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"HTTP/1.1 200 OK\nX: y\n\n",
}

var chunkedSeeds = []string{
	chunkedResponseBody,
	"5\r\nhello\r\n0\r\n\r\n",
	"5;a=b;c=\"d;e\"\r\nhello\r\n0\r\nT: v\r\nU: w\r\n\r\n",
	"0000000000000000000005\r\nhello\r\n0\r\n\r\n",
	"5 ;x\r\nhello\r\n0\r\n\r\n",
	"5 \r\nhello\r\n0\r\n\r\n",
	"5\nhello\n0\n\n",
	"5\r\nhelloXX0\r\n\r\n",
	"fffffffffffffffff\r\n",
	"-1\r\n",
	"0\r\n\r\nGET / HTTP/1.1\r\n",
}

// rng is a small deterministic generator for split points.
type rng uint64

func (r *rng) next(n int) int {
	*r ^= *r << 13
	*r ^= *r >> 7
	*r ^= *r << 17
	return int(uint64(*r) % uint64(n))
}

// feedRequest parses data in pieces cut at points chosen by seed; each call
// gets a fresh copy of the prefix, as from a re-allocated buffer.
func feedRequest(r *Request, data []byte, seed uint64) (int, error) {
	g := rng(seed | 1)
	end := 0
	for {
		if end < len(data) {
			end += 1 + g.next(len(data)-end)
		}
		n, err := r.Parse(append([]byte(nil), data[:end]...))
		if err != ErrNeedMore || end == len(data) {
			return n, err
		}
	}
}

func FuzzRequest(f *testing.F) {
	for k, s := range requestSeeds {
		f.Add([]byte(s), uint64(k), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, bareLF bool) {
		lim := Limits{AllowBareLF: bareLF, MaxHead: 4 << 10, MaxRequestLine: 1 << 10, MaxHeaders: 50}
		one := Request{Limits: lim}
		n, err := one.Parse(data)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("Parse = %d, %v for %d bytes", n, err, len(data))
		}
		if err != nil && err != ErrNeedMore && Status(err) == 0 {
			t.Fatalf("error %v has no status", err)
		}
		inc := Request{Limits: lim}
		n2, err2 := feedRequest(&inc, data, seed)
		if n2 != n || err2 != err {
			t.Fatalf("one-shot (%d, %v), split (%d, %v)", n, err, n2, err2)
		}
		if err != nil {
			return
		}
		if d := diffRequest(&one, &inc); d != "" {
			t.Fatalf("split parse differs: %s", d)
		}
		checkRequestInvariants(t, &one)
		// Re-serialised canonically, the head parses to the same fields.
		out := appendRequest(nil, &one.Headers, &one)
		var again Request
		again.Limits = Limits{MaxHead: 1 << 20, MaxRequestLine: 1 << 20, MaxHeaders: MaxHeadersCap}
		if m, err := again.Parse(out); err != nil || m != len(out) {
			t.Fatalf("re-serialised %q: %d, %v", out, m, err)
		}
		if d := diffRequest(&one, &again); d != "" {
			t.Fatalf("re-serialised parse differs: %s", d)
		}
	})
}

func checkRequestInvariants(t *testing.T, r *Request) {
	t.Helper()
	if len(r.Method) == 0 || len(r.Target) == 0 || (r.Minor != 0 && r.Minor != 1) {
		t.Fatalf("bad start line %q %q %d", r.Method, r.Target, r.Minor)
	}
	if len(r.Path)+len(r.Query)+btoi(r.Query != nil) != len(r.Target) {
		// Only an absolute-form target is longer: its scheme and
		// authority come first, and the authority is the Host.
		abs := bytes.Index(r.Target, []byte("://"))
		tail := string(r.Path)
		if r.Query != nil {
			tail += "?" + string(r.Query)
		}
		if abs < 0 || !bytes.HasSuffix(r.Target, []byte(strings.TrimPrefix(tail, "/"))) || !bytes.Contains(r.Target, r.Host) {
			t.Fatalf("path %q query %q target %q host %q", r.Path, r.Query, r.Target, r.Host)
		}
	}
	for _, h := range r.Headers {
		if len(h.Name) == 0 || bytes.ContainsAny(h.Name, ": \t\r\n") || bytes.ContainsAny(h.Value, "\r\n\x00") {
			t.Fatalf("bad field %q: %q", h.Name, h.Value)
		}
		if len(h.Value) > 0 && (isOWS(h.Value[0]) || isOWS(h.Value[len(h.Value)-1])) {
			t.Fatalf("untrimmed value %q", h.Value)
		}
	}
	switch r.Body {
	case BodyNone:
		if r.ContentLength > 0 {
			t.Fatalf("BodyNone with length %d", r.ContentLength)
		}
	case BodyLength:
		if r.ContentLength <= 0 {
			t.Fatalf("BodyLength with length %d", r.ContentLength)
		}
	case BodyChunked:
		if r.ContentLength != -1 || !HasToken(r.TransferEncoding, "chunked") && r.Header("transfer-encoding") == nil {
			t.Fatalf("BodyChunked with length %d TE %q", r.ContentLength, r.TransferEncoding)
		}
	default:
		t.Fatalf("request body kind %d", r.Body)
	}
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendResponse(dst []byte, r *Response) []byte {
	dst = append(dst, "HTTP/1."...)
	dst = append(dst, byte('0'+r.Minor), ' ')
	dst = append(dst, byte('0'+r.Status/100), byte('0'+r.Status/10%10), byte('0'+r.Status%10), ' ')
	dst = append(dst, r.Reason...)
	dst = append(dst, "\r\n"...)
	for _, h := range r.Headers {
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.Value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func FuzzResponse(f *testing.F) {
	for k, s := range responseSeeds {
		f.Add([]byte(s), uint64(k), k%3 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, head bool) {
		lim := Limits{MaxHead: 4 << 10, MaxHeaders: 50}
		one := Response{Limits: lim}
		n, err := one.Parse(data, head)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("Parse = %d, %v for %d bytes", n, err, len(data))
		}
		inc := Response{Limits: lim}
		g := rng(seed | 1)
		n2, err2, end := 0, ErrNeedMore, 0
		for err2 == ErrNeedMore && end < len(data) {
			end += 1 + g.next(len(data)-end)
			n2, err2 = inc.Parse(append([]byte(nil), data[:end]...), head)
		}
		if len(data) == 0 {
			n2, err2 = inc.Parse(data, head)
		}
		if n2 != n || err2 != err {
			t.Fatalf("one-shot (%d, %v), split (%d, %v)", n, err, n2, err2)
		}
		if err != nil {
			return
		}
		if d := diffStrings(describeResponse(&one), describeResponse(&inc)); d != "" {
			t.Fatalf("split parse differs: %s", d)
		}
		if one.Status < 100 || one.Status > 999 {
			t.Fatalf("status %d", one.Status)
		}
		if (head || one.Status < 200 || one.Status == 204 || one.Status == 304) && one.Body != BodyNone {
			t.Fatalf("status %d head %v: body %d", one.Status, head, one.Body)
		}
		if one.Body == BodyClose && one.KeepAlive {
			t.Fatal("BodyClose with KeepAlive")
		}
		out := appendResponse(nil, &one)
		var again Response
		again.Limits = Limits{MaxHead: 1 << 20, MaxHeaders: MaxHeadersCap}
		if m, err := again.Parse(out, head); err != nil || m != len(out) {
			t.Fatalf("re-serialised %q: %d, %v", out, m, err)
		}
		if d := diffStrings(describeResponse(&one), describeResponse(&again)); d != "" {
			t.Fatalf("re-serialised parse differs: %s", d)
		}
	})
}

// chunkedResult runs Decode over data cut at points chosen by seed (seed 0:
// one piece) and returns the payload, bytes consumed, done and the error.
func chunkedResult(data []byte, seed uint64) (payload []byte, used int, done bool, err error) {
	var c Chunked
	g := rng(seed | 1)
	var pending []byte
	fed := 0
	for {
		step := len(data) - fed
		if seed != 0 && step > 0 {
			step = 1 + g.next(step)
		}
		pending = append(pending, data[fed:fed+step]...)
		fed += step
		for {
			n, p, d, e := c.Decode(pending)
			if e != nil {
				return payload, used, false, e
			}
			if n > len(pending) || len(p) > n {
				panic("Decode consumed more than given")
			}
			payload = append(payload, p...)
			pending = pending[n:]
			used += n
			if d {
				return payload, used, true, nil
			}
			if n == 0 {
				break
			}
		}
		if fed == len(data) {
			return payload, used, false, nil
		}
	}
}

func FuzzChunked(f *testing.F) {
	for k, s := range chunkedSeeds {
		f.Add([]byte(s), uint64(k))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		p1, u1, d1, e1 := chunkedResult(data, 0)
		p2, u2, d2, e2 := chunkedResult(data, seed)
		if e1 != e2 || d1 != d2 || (e1 == nil && (u1 != u2 || !bytes.Equal(p1, p2))) {
			t.Fatalf("one-shot (%q %d %v %v), split (%q %d %v %v)", p1, u1, d1, e1, p2, u2, d2, e2)
		}
		var c Chunked
		n, done, err := c.Skip(data)
		if err != e1 || done != d1 || (err == nil && n != u1) || n > len(data) {
			t.Fatalf("Skip (%d %v %v), Decode (%d %v %v)", n, done, err, u1, d1, e1)
		}
		if e1 != nil && Status(e1) != 400 {
			t.Fatalf("status %d for %v", Status(e1), e1)
		}
		if !d1 {
			return
		}
		// Re-encoded as one chunk, the payload decodes to itself.
		var enc []byte
		if len(p1) > 0 {
			enc = append(enc, strings.ToLower(strings.TrimLeft(hexString(len(p1)), "0"))...)
			enc = append(enc, "\r\n"...)
			enc = append(enc, p1...)
			enc = append(enc, "\r\n"...)
		}
		enc = append(enc, "0\r\n\r\n"...)
		p3, u3, d3, e3 := chunkedResult(enc, 0)
		if e3 != nil || !d3 || u3 != len(enc) || !bytes.Equal(p3, p1) {
			t.Fatalf("re-encoded %q: %q %d %v %v", enc, p3, u3, d3, e3)
		}
	})
}

func hexString(n int) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	i := len(b)
	for {
		i--
		b[i] = digits[n&15]
		n >>= 4
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// FuzzPlainLines compares the field-line scanners, scanPlainLines (the
// assembly, where there is one) and scanPlainLinesGo, with each other and
// with the definition of a plain line, on arbitrary field sections, and
// checks that neither looks past the end of its input.
func FuzzPlainLines(f *testing.F) {
	for _, seeds := range [][]string{requestSeeds, responseSeeds} {
		for _, s := range seeds {
			if k := strings.IndexByte(s, '\n'); k >= 0 {
				f.Add([]byte(s[k+1:]))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		scanBoth(t, data)
		scanBounds(t, data)
	})
}

// FuzzDifferentialNetHTTP compares Request.Parse with net/http's
// http.ReadRequest. Where both accept, the method, the target, the header
// fields and the body framing must agree. Known, deliberate classes of
// disagreement (all of them "one side rejects", never "both accept and
// differ") are:
//
//   - hotpath rejects what net/http accepts: several equal Content-Length
//     values (net/http collapses them), obs-fold (net/http unfolds),
//     Transfer-Encoding in HTTP/1.0 (net/http ignores it), a missing Host
//     in HTTP/1.1 (net/http leaves that to the server), empty lines before
//     the request line are skipped by hotpath but refused by net/http.
//   - net/http rejects what hotpath accepts: targets url.ParseRequestURI
//     refuses (for example without a leading '/'), codings other than a
//     lone "chunked" (hotpath accepts "gzip, chunked"), CONNECT and
//     absolute-form details.
//
// Leading empty lines are stripped before net/http sees the input so the
// two compare the same message.
func FuzzDifferentialNetHTTP(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		n, err := r.Parse(data)
		if err != nil {
			return
		}
		rest := data[:n]
		for bytes.HasPrefix(rest, []byte("\r\n")) {
			rest = rest[2:]
		}
		req, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(rest, data[n:]...))))
		if herr != nil {
			return
		}
		if req.Method != string(r.Method) || req.RequestURI != string(r.Target) || req.ProtoMinor != r.Minor {
			t.Fatalf("start line: net/http %q %q 1.%d, hotpath %q %q 1.%d", req.Method, req.RequestURI, req.ProtoMinor, r.Method, r.Target, r.Minor)
		}
		// Header fields, as multisets under canonical names. net/http moves
		// Host out of the map and drops Transfer-Encoding once it has
		// framed the body.
		want := http.Header{}
		for _, h := range r.Headers {
			k := textproto.CanonicalMIMEHeaderKey(string(h.Name))
			if k == "Host" || k == "Transfer-Encoding" {
				continue
			}
			want[k] = append(want[k], string(h.Value))
		}
		got := req.Header.Clone()
		delete(got, "Transfer-Encoding")
		if len(want) != len(got) {
			t.Fatalf("headers: net/http %v, hotpath %v", got, want)
		}
		for k, v := range want {
			if strings.Join(got[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("header %s: net/http %q, hotpath %q", k, got[k], v)
			}
		}
		// net/http takes the host from an absolute-form target, and from
		// the authority-form target of CONNECT; hotpath reports the Host
		// field as sent and leaves that choice to the router.
		if !strings.Contains(string(r.Target), "://") && string(r.Method) != "CONNECT" && r.Host != nil && req.Host != string(r.Host) {
			t.Fatalf("host: net/http %q, hotpath %q", req.Host, r.Host)
		}
		switch r.Body {
		case BodyChunked:
			if len(req.TransferEncoding) != 1 || req.TransferEncoding[0] != "chunked" {
				t.Fatalf("framing: hotpath chunked, net/http %v %d", req.TransferEncoding, req.ContentLength)
			}
		case BodyLength:
			if req.ContentLength != r.ContentLength || len(req.TransferEncoding) != 0 {
				t.Fatalf("framing: hotpath length %d, net/http %v %d", r.ContentLength, req.TransferEncoding, req.ContentLength)
			}
		case BodyNone:
			if req.ContentLength != 0 || len(req.TransferEncoding) != 0 {
				t.Fatalf("framing: hotpath none, net/http %v %d", req.TransferEncoding, req.ContentLength)
			}
		}
		if r.KeepAlive == req.Close {
			t.Fatalf("keep-alive: hotpath %v, net/http close %v", r.KeepAlive, req.Close)
		}
		_, _ = io.Copy(io.Discard, req.Body)
	})
}
