package iplist

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePrefix parses one list entry: a CIDR ("10.0.0.0/8", "2001:db8::/32")
// or a single address ("192.0.2.7", "2001:db8::1", a /32 or /128). It
// refuses zones and returns ErrEntry for anything else. The result is
// masked.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, ErrEntry
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, ErrEntry
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseLines parses a list file: one entry (see ParsePrefix) per line;
// blank lines and text from '#' to the end of a line are ignored. The
// first bad line is returned as a *LineError.
func ParseLines(data []byte) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		p, err := ParsePrefix(string(line))
		if err != nil {
			return nil, &LineError{Line: n, Text: string(line)}
		}
		out = append(out, p)
	}
	return out, nil
}

// LineError is a bad line of a list file.
type LineError struct {
	Line int    // 1-based
	Text string // the entry, comments and spaces removed
}

func (e *LineError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + ErrEntry.Error() + ", got " + strconv.Quote(e.Text)
}

// Unwrap returns ErrEntry.
func (e *LineError) Unwrap() error { return ErrEntry }
