package parser

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestSWARMasks checks the eight-byte masks against the byte tables for
// every byte value in every position, among bytes that are not flagged.
func TestSWARMasks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mask   func(uint64) uint64
		fill   string
		flagFn func(c byte) bool
	}{
		{"ctlMask", ctlMask, "a\x80 ~Z\xff0!", func(c byte) bool { return c < 0x20 || c == 0x7f }},
		{"notAlnumDash", notAlnumDash, "aZ0-zA9m", func(c byte) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for c := 0; c < 256; c++ {
				for pos := 0; pos < 8; pos++ {
					b := []byte(tc.fill)
					b[pos] = byte(c)
					m := tc.mask(binary.LittleEndian.Uint64(b))
					want := uint64(0)
					if tc.flagFn(byte(c)) {
						want = 0x80 << (8 * pos)
					}
					if m != want {
						t.Fatalf("byte %#x at %d: mask %#x, want %#x", c, pos, m, want)
					}
				}
			}
		})
	}
}

func TestScanValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"CR", "abc\r\n", 3},
		{"long", "0123456789abcdef0123456789\r\n", 26},
		{"tab", "a\tb\tc\td\te\tf\tg\th\ti\tj\r", 19},
		{"NUL late", "0123456789abcdef01234\x00", 21},
		{"DEL", "01234567\x7f", 8},
		{"obs-text", "\x80\xff\xfe\xa0abcdefgh\r", 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scanValue([]byte(tc.in), 0, len(tc.in)); got != tc.want {
				t.Errorf("scanValue(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestCutField(t *testing.T) {
	b := []byte("ETag:  \"v1\" \r\nX-Empty:\r\nNoColon\r\n\r\nbody")
	var got []string
	for {
		name, value, line, rest, ok := CutField(b)
		if !ok {
			break
		}
		got = append(got, string(name)+"|"+string(value)+"|"+string(line))
		b = rest
	}
	want := []string{"ETag|\"v1\"|ETag:  \"v1\" \r\n", "X-Empty||X-Empty:\r\n", "NoColon||NoColon\r\n"}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %q, want %q", i, got[i], want[i])
		}
	}
	if string(b) != "\r\nbody" {
		t.Errorf("stops before the empty line, rest %q", b)
	}
	if _, _, _, _, ok := CutField([]byte("no end")); ok {
		t.Error("an unterminated line")
	}
}

// TestFields: Fields yields what CutField cuts, stops at the end of the
// head or when the loop breaks, and allocates nothing.
func TestFields(t *testing.T) {
	b := []byte("ETag:  \"v1\" \r\nX-Empty:\r\nNoColon\r\n\r\nAfter: x\r\n")
	var got []string
	for name, value := range Fields(b) {
		got = append(got, string(name)+"|"+string(value))
	}
	if want := `["ETag|\"v1\"" "X-Empty|" "NoColon|"]`; fmt.Sprintf("%q", got) != want {
		t.Fatalf("got %q, want %s", got, want)
	}
	n := 0
	for range Fields(b) {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("break: %d iterations", n)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		for name := range Fields(b) {
			n += len(name)
		}
	}); allocs != 0 {
		t.Fatalf("%.1f allocations per range", allocs)
	}
}
