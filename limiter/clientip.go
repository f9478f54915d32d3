package limiter

import (
	"net/netip"
	"strings"
	"unsafe"

	"github.com/hotpath/hotpath/parser"
)

// TrustedProxies is the set of proxy addresses whose X-Forwarded-For
// entries the gateway believes (trusted_proxies: a list of CIDRs or
// addresses). The zero value and nil trust nothing.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "fd00::/8") and single
// addresses ("192.0.2.7"). It returns ErrTrustedCIDR for anything else.
func ParseTrustedProxies(cidrs []string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(c)
			if a.Zone() != "" {
				return nil, ErrTrustedCIDR
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil || p.Addr().Zone() != "" {
			return nil, ErrTrustedCIDR
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// Trusted reports whether a is a trusted proxy.
func (t *TrustedProxies) Trusted(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address a rate limit should key on: the peer's
// address when the peer is not a trusted proxy; otherwise the rightmost
// X-Forwarded-For address that is not a trusted proxy (every address to its
// right was appended by a proxy we trust, everything to its left was
// written by the client and can be forged). If every entry is trusted, the
// leftmost is returned. An entry that is not an address ("unknown", an
// obfuscated node) stops the walk: the nearest address seen so far is
// returned, since nothing left of it can be attributed.
//
// xff holds the X-Forwarded-For field lines in the order they appear in
// the request (several lines form one list). Entries may carry a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711"). ClientIP does not allocate;
// the slices are only read during the call.
func (t *TrustedProxies) ClientIP(peer netip.Addr, xff ...[]byte) netip.Addr {
	client := peer.Unmap()
	if !t.Trusted(client) {
		return client
	}
	for li := len(xff) - 1; li >= 0; li-- {
		var done bool
		if client, done = t.Step(client, xff[li]); done {
			break
		}
	}
	return client
}

// Step is ClientIP one field line at a time, for a caller that walks a
// request's X-Forwarded-For lines itself, from the last one back, however
// many there are: client is the result so far (start with a trusted peer's
// address), line the next line to its left. done reports that the walk has
// ended (an untrusted address or an entry that is not an address); the
// caller stops there and keeps the returned address.
func (t *TrustedProxies) Step(client netip.Addr, line []byte) (netip.Addr, bool) {
	b := line
	for len(b) > 0 {
		var entry []byte
		if i := lastComma(b); i >= 0 {
			entry, b = b[i+1:], b[:i]
		} else {
			entry, b = b, nil
		}
		entry = parser.TrimOWS(entry)
		if len(entry) == 0 {
			continue
		}
		a, ok := parseForwardedAddr(entry)
		if !ok {
			return client, true
		}
		client = a
		if !t.Trusted(a) {
			return a, true
		}
	}
	return client, false
}

func lastComma(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ',' {
			return i
		}
	}
	return -1
}

// parseForwardedAddr parses one X-Forwarded-For entry, dropping a port.
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	if b[0] == '[' { // "[v6]" or "[v6]:port"
		end := -1
		for i := range b {
			if b[i] == ']' {
				end = i
				break
			}
		}
		if end < 0 {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else if colons := countColons(b); colons == 1 { // "v4:port"
		for i := range b {
			if b[i] == ':' {
				b = b[:i]
				break
			}
		}
	}
	if len(b) == 0 || len(b) > 45 {
		return netip.Addr{}, false
	}
	for _, c := range b {
		if c == '%' { // zones are never client addresses
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(bytesView(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func countColons(b []byte) int {
	n := 0
	for _, c := range b {
		if c == ':' {
			n++
		}
	}
	return n
}

// bytesView lets netip.ParseAddr read b without a copy. This is safe
// because ParseAddr keeps no reference to its input when the address has no
// zone (the only part it retains, and parseForwardedAddr rejects zones),
// and b is not modified during the call.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
