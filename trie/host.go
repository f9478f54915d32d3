package trie

import "strings"

// maxHost is the longest host name a lookup considers (RFC 1035 §2.3.4 allows
// 253 bytes, plus a trailing dot); a longer Host value gets the default tree.
const maxHost = 255

// hostTable picks the path tree for a Host header value: an exact host, else
// the most specific wildcard, else the default tree. There is no fallback
// from a matched host's tree to the default one (like nginx server blocks).
type hostTable struct {
	exact map[string]*pathTree // "api.example.com"
	wild  map[string]*pathTree // "*.example.com" is stored as "example.com"
	def   *pathTree
}

// find returns the path tree for host; it does not allocate. One pass finds
// the port and any upper-case byte.
func (h *hostTable) find(host []byte) *pathTree {
	upper := false
	if len(host) > 0 && host[0] == '[' {
		host = stripPort(host)
		upper = hasUpper(host)
	} else {
		for i, c := range host {
			if c == ':' {
				host = host[:i]
				break
			}
			if 'A' <= c && c <= 'Z' {
				upper = true
			}
		}
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1] // "example.com." is the same name
	}
	if len(host) == 0 || len(host) > maxHost {
		return h.def
	}
	if upper {
		return h.findFolded(host)
	}
	return h.match(host)
}

// findFolded is find for a host with upper-case bytes: it matches a
// lower-cased copy in a stack buffer (kept out of find, so that the common
// lower-case host does not pay for clearing the buffer).
func (h *hostTable) findFolded(host []byte) *pathTree {
	var buf [maxHost]byte
	n := copy(buf[:], host)
	for j := 0; j < n; j++ {
		if c := buf[j]; 'A' <= c && c <= 'Z' {
			buf[j] = c + ('a' - 'A')
		}
	}
	return h.match(buf[:n])
}

// match looks up a normalised host: exact, then wildcards, then default.
func (h *hostTable) match(host []byte) *pathTree {
	if t, ok := h.exact[string(host)]; ok {
		return t
	}
	// Wildcards match one or more labels: try the longest suffix first, so
	// "*.eu.example.com" beats "*.example.com" for "a.eu.example.com".
	if len(h.wild) > 0 {
		for i, c := range host {
			if c == '.' {
				if t, ok := h.wild[string(host[i+1:])]; ok {
					return t
				}
			}
		}
	}
	return h.def
}

func hasUpper(s []byte) bool {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// stripPort removes a ":port" suffix; an IPv6 literal keeps its brackets.
func stripPort(host []byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		for i, c := range host {
			if c == ']' {
				return host[:i+1]
			}
		}
		return host
	}
	for i, c := range host {
		if c == ':' {
			return host[:i]
		}
	}
	return host
}

// hostKey validates a host as given to Add and returns its table key:
// lower-cased, without a trailing dot, and whether it is a wildcard.
func hostKey(host string) (key string, wildcard bool, ok bool) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return "", false, host == ""
	}
	if strings.HasPrefix(h, "*.") {
		h, wildcard = h[2:], true
	}
	if h == "" || len(h) > maxHost {
		return "", false, false
	}
	if h[0] == '[' {
		if wildcard || h[len(h)-1] != ']' || strings.ContainsAny(h[1:len(h)-1], "[]") {
			return "", false, false
		}
		for _, c := range h[1 : len(h)-1] {
			if !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return "", false, false
			}
		}
		return h, false, true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "", false, false
		}
		for _, c := range label {
			if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
				return "", false, false
			}
		}
	}
	return h, wildcard, true
}
