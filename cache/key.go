package cache

import (
	"github.com/cespare/xxhash/v2"
	"github.com/hotpath/hotpath/parser"
)

// Headers gives the cache read access to the request's header fields, by
// index, in the order received. The engine implements it on its parsed
// request (a pointer, so passing it as an interface does not allocate).
// The cache walks the fields once per Lookup; the slices are only read
// during the call.
type Headers interface {
	Len() int
	Field(i int) (name, value []byte)
}

// Request is what the cache needs from a request. The engine keeps one per
// connection and refills it; the slices are views into its read buffer and
// are only read during Lookup, Store and Fits.
type Request struct {
	Method []byte
	Host   []byte // the Host header or authority; compared case-insensitively
	Path   []byte // as received (not normalised)
	Query  []byte // without '?'; nil when there is none
	// Variant is an engine-chosen discriminator mixed into the key, e.g.
	// the content coding it will apply (compression.Encoding): each
	// coding is a separate entry. 0 for none.
	Variant uint64
	Headers Headers
}

// URLKey hashes host (lower-cased), path and query: the unit of
// PurgeURL. It does not allocate.
func URLKey(host, path, query []byte) uint64 {
	if n := len(host) + len(path) + len(query); n <= 232 {
		// The common case in one pass over a stack buffer.
		var buf [256]byte
		b := buf[:0]
		for _, c := range host {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		b = append(b, byte(len(host)), byte(len(host)>>8))
		b = append(b, path...)
		b = append(b, byte(len(path)), byte(len(path)>>8))
		b = append(b, query...)
		b = append(b, byte(len(query)), byte(len(query)>>8), 0xff)
		return xxhash.Sum64(b)
	}
	var d xxhash.Digest
	d.Reset()
	writeLower(&d, host)
	writeLen(&d, len(host))
	_, _ = d.Write(path)
	writeLen(&d, len(path))
	_, _ = d.Write(query)
	writeLen(&d, len(query))
	return d.Sum64()
}

// PrimaryKey is the first-level key of a request: its method class (HEAD
// shares GET's entries), URLKey and variant. A resource whose responses
// carry no Vary is stored under its primary key; otherwise the primary key
// holds the list of Vary names and VariantKey gives the entry's key. It
// does not allocate.
func PrimaryKey(method, host, path, query []byte, variant uint64) uint64 {
	return primaryFromURL(methodClass(method), URLKey(host, path, query), variant)
}

func primaryFromURL(class byte, url, variant uint64) uint64 {
	b := [17]byte{class}
	putUint64(b[1:], url)
	putUint64(b[9:], variant)
	return xxhash.Sum64(b[:])
}

// VariantKey is the second-level key: the primary key and the values the
// request has for the header names a response listed in Vary (lower-case).
// An absent header and an empty one differ. It does not allocate.
func VariantKey(primary uint64, varyNames []string, h Headers) uint64 {
	var d xxhash.Digest
	d.Reset()
	var b [8]byte
	putUint64(b[:], primary)
	_, _ = d.Write(b[:])
	for _, name := range varyNames {
		_, _ = d.WriteString(name)
		writeLen(&d, len(name))
		v := header(h, name)
		if v == nil {
			writeLen(&d, -1)
			continue
		}
		v = parser.TrimOWS(v)
		_, _ = d.Write(v)
		writeLen(&d, len(v))
	}
	return d.Sum64()
}

// methodClass maps a method to the class its entries are stored under.
// Only GET and HEAD are looked up; HEAD is served from GET's entry.
func methodClass(m []byte) byte {
	switch string(m) {
	case "GET", "HEAD":
		return 'G'
	}
	return 0
}

// header returns the value of the first field named name (lower-case),
// or nil when the request has none. A present, empty field is non-nil.
func header(h Headers, name string) []byte {
	if h == nil {
		return nil
	}
	for i, n := 0, h.Len(); i < n; i++ {
		if k, v := h.Field(i); parser.EqualFold(k, name) {
			if v == nil {
				v = empty[:]
			}
			return v
		}
	}
	return nil
}

var empty [0]byte

func writeLower(d *xxhash.Digest, b []byte) {
	var buf [64]byte
	for len(b) > 0 {
		n := copy(buf[:], b)
		for i := 0; i < n; i++ {
			if c := buf[i]; 'A' <= c && c <= 'Z' {
				buf[i] = c + 'a' - 'A'
			}
		}
		_, _ = d.Write(buf[:n])
		b = b[n:]
	}
}

func writeLen(d *xxhash.Digest, n int) {
	var b [8]byte
	putUint64(b[:], uint64(n))
	_, _ = d.Write(b[:])
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}
