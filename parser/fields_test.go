package parser

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// scanBoth runs scanPlainLines (the assembly, where there is one) and
// scanPlainLinesGo over in from 0 and checks that they agree: the assembly
// takes a prefix of the lines the Go scan takes, the same, and stops short
// of the Go scan only at a line with HTAB in its value (or in a head
// shorter than sixteen bytes).
func scanBoth(t *testing.T, in []byte) {
	t.Helper()
	if len(in) == 0 {
		return
	}
	p := unsafe.SliceData(in)
	var gs, as [plainBatch][4]uint32
	gn, gnext, gdone := scanPlainLinesGo(p, 0, len(in), plainBatch, &gs)
	checkSpans(t, in, gs[:gn], gnext, gdone)
	if !haveScanLines {
		return
	}
	an, anext, adone := scanPlainLines(p, 0, len(in), plainBatch, &as)
	if len(in) < 16 {
		if an != 0 || anext != 0 || adone {
			t.Fatalf("%q: assembly (%d, %d, %v) on fewer than 16 bytes", in, an, anext, adone)
		}
		return
	}
	if an > gn || fmt.Sprint(as[:an]) != fmt.Sprint(gs[:an]) {
		t.Fatalf("%q: assembly %d lines %v, Go %d lines %v", in, an, as[:an], gn, gs[:gn])
	}
	if adone || an == gn {
		if adone != gdone || anext != gnext || an != gn {
			t.Fatalf("%q: assembly (%d, %d, %v), Go (%d, %d, %v)", in, an, anext, adone, gn, gnext, gdone)
		}
		return
	}
	if !bytes.Contains(in[anext:gs[an][3]], []byte("\t")) {
		t.Fatalf("%q: assembly stopped at %d, before line %d which has no HTAB", in, anext, an)
	}
}

// checkSpans checks what a scan found against the definition of a plain
// line, byte by byte.
func checkSpans(t *testing.T, in []byte, spans [][4]uint32, next int, done bool) {
	t.Helper()
	i := 0
	for _, s := range spans {
		j, vs, ve, k := int(s[0]), int(s[1]), int(s[2]), int(s[3])
		if !(i < j && j < vs+1 && vs <= ve && ve <= k && k+2 <= len(in)) {
			t.Fatalf("%q: span %v from %d out of order", in, s, i)
		}
		for _, c := range in[i:j] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("%q: name %q taken", in, in[i:j])
			}
		}
		if in[j] != ':' || in[k] != '\r' || in[k+1] != '\n' {
			t.Fatalf("%q: span %v: no colon or CRLF", in, s)
		}
		for _, c := range in[j+1 : k] {
			if !valueChar[c] {
				t.Fatalf("%q: value %q taken", in, in[j+1:k])
			}
		}
		if strings.Trim(string(in[j+1:k]), " \t") != string(in[vs:ve]) {
			t.Fatalf("%q: value %q, span %q", in, in[j+1:k], in[vs:ve])
		}
		i = k + 2
	}
	if done {
		if next != i+2 || !bytes.HasPrefix(in[i:], []byte("\r\n")) {
			t.Fatalf("%q: done at %d after lines to %d", in, next, i)
		}
	} else if next != i {
		t.Fatalf("%q: stopped at %d after lines to %d", in, next, i)
	}
}

// randomFields makes a field section from pieces that are mostly plain,
// with every kind of odd byte now and then, truncated anywhere.
func randomFields(g *rand.Rand) []byte {
	names := []string{"Host", "Content-Length", "X-Custom-Header-01", "a", "Accept-Encoding", "Upgrade-Insecure-Requests-Extra-Long-Name"}
	odd := []string{"\t", " ", "\r", "\n", "\x00", "\x7f", "\x80", "\xff", ":", "_", "\r\n", "\r\n\r\n", "\x1f", "\x0b"}
	var b []byte
	for range 1 + g.IntN(6) {
		if g.IntN(8) == 0 {
			b = append(b, odd[g.IntN(len(odd))]...)
		}
		b = append(b, names[g.IntN(len(names))]...)
		if g.IntN(10) == 0 {
			b = append(b, odd[g.IntN(len(odd))]...)
		}
		b = append(b, ':')
		b = append(b, strings.Repeat(" ", g.IntN(3))...)
		for range g.IntN(70) {
			if g.IntN(30) == 0 {
				b = append(b, odd[g.IntN(len(odd))]...)
			} else {
				b = append(b, byte(0x20+g.IntN(0x5f)))
			}
		}
		b = append(b, strings.Repeat(" \t"[g.IntN(2):g.IntN(2)+1], g.IntN(3))...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	if g.IntN(3) == 0 {
		b = b[:g.IntN(len(b)+1)]
	}
	if g.IntN(3) == 0 {
		b = append(b, "GET / HTTP/1.1\r\n"...) // what follows the head
	}
	return b
}

func TestScanPlainLines(t *testing.T) {
	for _, in := range []string{
		"\r\n",
		"A: b\r\n\r\n",
		"Host: www.example.com\r\nAccept: */*\r\n\r\n",
		"Host:www.example.com  \t\r\n\r\nbody",
		"X: a\tb\r\nY: c\r\n\r\n",
		"X-Custom-Header-01-Longer-Than-Sixteen: v\r\n\r\n",
		"X_Y: z\r\n\r\n",
		"X : z\r\n\r\n",
		": z\r\n\r\n",
		"X: \x80\xff\r\n\r\n",
		"X: a\x7fb\r\n\r\n",
		"X: a\rb\r\n\r\n",
		"X: a\nb\r\n\r\n",
		"X: abc\r\n",
		"X: abc\r",
		"Long-Name-Without-Colon-At-All\r\n\r\n",
		"X:\r\n\r\n",
		"X:   \r\n\r\n",
	} {
		scanBoth(t, []byte(in))
	}
	g := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		scanBoth(t, randomFields(g))
	}
}

// scanBounds checks that the scans look at no byte past end: the same
// head followed by different bytes scans the same.
func scanBounds(t *testing.T, in []byte) {
	t.Helper()
	scan := func(buf []byte, asm bool) string {
		var s [plainBatch][4]uint32
		var n, next int
		var done bool
		if asm {
			n, next, done = scanPlainLines(unsafe.SliceData(buf), 0, len(in), plainBatch, &s)
		} else {
			n, next, done = scanPlainLinesGo(unsafe.SliceData(buf), 0, len(in), plainBatch, &s)
		}
		return fmt.Sprint(n, next, done, s[:n])
	}
	a := append(append([]byte(nil), in...), "\r\n\r\nX: y\r\n\r\n"...)
	b := append(append([]byte(nil), in...), "xyzXYZ-:abcdefghijklmnop"...)
	for _, asm := range []bool{false, haveScanLines} {
		if sa, sb := scan(a, asm), scan(b, asm); sa != sb {
			t.Fatalf("%q (assembly %v): scans differ with what follows: %s, %s", in, asm, sa, sb)
		}
	}
}

func TestScanPlainLinesBounds(t *testing.T) {
	g := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		scanBounds(t, randomFields(g))
	}
}

func TestKnownName(t *testing.T) {
	known := map[string]uint8{
		"host": nameHost, "expect": nameExpect, "upgrade": nameUpgrade,
		"connection": nameConnection, "authorization": nameAuthorization,
		"cache-control": nameCacheControl, "content-length": nameContentLength,
		"accept-encoding": nameAcceptEncoding, "transfer-encoding": nameTransferEncoding,
		"content-type": nameContentType, "content-encoding": nameContentEncoding,
	}
	g := rand.New(rand.NewPCG(5, 6))
	for name, id := range known {
		for range 20 {
			b := []byte(name)
			for k := range b {
				if g.IntN(2) == 0 && b[k] >= 'a' && b[k] <= 'z' {
					b[k] -= 'a' - 'A'
				}
			}
			if got := knownName(b); got != id {
				t.Errorf("knownName(%q) = %d, want %d", b, got, id)
			}
		}
		// Any other token character in any position makes it unknown.
		for k := range name {
			for c := 0; c < 256; c++ {
				if !tokenChar[c] || byte(c)|0x20 == name[k] {
					continue
				}
				b := []byte(name)
				b[k] = byte(c)
				if got := knownName(b); got != nameOther {
					t.Errorf("knownName(%q) = %d, want none", b, got)
				}
			}
		}
		if got := knownName([]byte(name + "s")); got != nameOther && len(name)+1 != 16 {
			t.Errorf("knownName(%q) = %d", name+"s", got)
		}
	}
	for _, name := range []string{"", "a", "hos", "hostx", "accept", "Accept-Language", "content-lengt", "X-Custom-Header-01"} {
		if got := knownName([]byte(name)); got != nameOther {
			t.Errorf("knownName(%q) = %d, want none", name, got)
		}
	}
}

func TestValueIs(t *testing.T) {
	for _, lower := range []string{"keep-alive", "close", "chunked"} {
		is := func(v []byte) bool {
			if len(lower) >= 8 {
				return valueIs(v, lower)
			}
			return shortValueIs(v, lower)
		}
		if !is([]byte(lower)) || !is([]byte(strings.ToUpper(lower))) {
			t.Errorf("%s: not equal to itself", lower)
		}
		if is([]byte(lower[1:])) || is([]byte(lower+"s")) {
			t.Errorf("%s: equal to another length", lower)
		}
		for k := range lower {
			for c := 0; c < 256; c++ {
				if !valueChar[c] {
					continue
				}
				v := []byte(lower)
				v[k] = byte(c)
				if want := EqualFold(v, lower); is(v) != want {
					t.Errorf("%s: %q: %v, want %v", lower, v, !want, want)
				}
			}
		}
	}
}

func TestScanTarget(t *testing.T) {
	// The target starts at 1, as it never starts at 0 in a request.
	ref := func(b []byte, q int) (int, int) {
		for i := 1; i < len(b); i++ {
			if c := b[i]; !targetChar[c] {
				return i, q
			} else if c == '?' && q == 0 {
				q = i
			}
		}
		return len(b), q
	}
	g := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte("/a?b=%&\x80\xff ~\x7f\x00\t\r\n#")
	for range 50000 {
		b := make([]byte, 1+g.IntN(40))
		for k := 1; k < len(b); k++ {
			b[k] = alphabet[g.IntN(len(alphabet))]
			if g.IntN(3) > 0 {
				b[k] = 'a' + byte(g.IntN(26))
			}
		}
		q0 := 0
		if g.IntN(4) == 0 {
			q0 = 1 + g.IntN(5) // a '?' seen by an earlier call
		}
		i, q := scanTarget(b, 1, len(b), q0)
		wi, wq := ref(b, q0)
		if i != wi || q != wq {
			t.Fatalf("scanTarget(%q, q %d) = %d, %d; want %d, %d", b, q0, i, q, wi, wq)
		}
	}
}

// TestPlainAndGeneralAgree parses random heads whole (the fast path takes
// their plain lines) and byte by byte (the general scanner takes all of
// them) and compares the results.
func TestPlainAndGeneralAgree(t *testing.T) {
	g := rand.New(rand.NewPCG(9, 10))
	for range 5000 {
		in := append([]byte("GET / HTTP/1.1\r\n"), randomFields(g)...)
		var one, inc Request
		n1, err1 := one.Parse(in)
		n2, err2 := 0, error(ErrNeedMore)
		for k := 1; k <= len(in) && err2 == ErrNeedMore; k++ {
			var n int
			n, err2 = inc.Parse(in[:k])
			n2 = n
		}
		if n1 != n2 || err1 != err2 {
			t.Fatalf("%q: whole (%d, %v), byte by byte (%v, %v)", in, n1, err1, n2, err2)
		}
		if err1 == nil {
			if d := diffRequest(&one, &inc); d != "" {
				t.Fatalf("%q: %s", in, d)
			}
		}
	}
}
