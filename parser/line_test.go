package parser

import (
	"strings"
	"testing"
)

// TestLineAfterRefusal: the request line of a head refused in its fields
// is still available, also when the head came in several reads; a head
// refused in its request line has none.
func TestLineAfterRefusal(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		cuts      []int
		method    string
		path, qry string
		err       error
	}{
		{name: "head-too-large", in: "GET /big?x=1 HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 40<<10) + "\r\n\r\n",
			cuts: []int{10, 100, 16384}, method: "GET", path: "/big", qry: "x=1", err: ErrHeadTooLarge},
		{name: "bad-field", in: "POST /p HTTP/1.1\r\nBad Field: x\r\n\r\n", method: "POST", path: "/p"},
		{name: "bad-line", in: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			buf := []byte(tc.in)
			for _, c := range tc.cuts {
				if _, err := r.Parse(buf[:c]); err != ErrNeedMore {
					t.Fatalf("cut %d: %v", c, err)
				}
			}
			if _, err := r.Parse(buf); err == nil || (tc.err != nil && err != tc.err) {
				t.Fatalf("Parse = %v, want %v", err, tc.err)
			}
			m, p, q := r.Line(buf)
			if string(m) != tc.method || string(p) != tc.path || string(q) != tc.qry {
				t.Errorf("Line = %q %q %q, want %q %q %q", m, p, q, tc.method, tc.path, tc.qry)
			}
			r.Reset()
			if m, _, _ := r.Line(buf); m != nil {
				t.Errorf("Line after Reset = %q", m)
			}
		})
	}
}
