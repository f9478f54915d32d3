package h2

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// Field is one header field. In what the package hands out, Name and Value
// are views (of the decoder's buffer, of the static table or of the input)
// with a documented lifetime; names are lowercase in HTTP/2.
type Field struct {
	Name  []byte
	Value []byte
}

// errHPACK is any header block that cannot be decoded (RFC 7541): the
// connection error COMPRESSION_ERROR.
var errHPACK = errors.New("hpack: invalid header block")

// fieldList receives decoded fields: it copies them into one buffer of
// fixed capacity, so that the fields are views that never move and nothing
// is allocated per block. Past max bytes (RFC 9113 §6.5.2's field list size:
// name + value + 32 per field) or cap(fields) fields it stops storing and
// sets over, while the decoder goes on to keep its table in sync.
type fieldList struct {
	buf     []byte
	fields  []Field
	size    int // RFC 9113 field list size so far
	max     int
	over    bool // the block went past a limit: fields are incomplete
	discard bool // store nothing (a refused stream's block)
}

func (l *fieldList) reset(discard bool) {
	l.buf, l.fields, l.size, l.over, l.discard = l.buf[:0], l.fields[:0], 0, false, discard
}

// add stores one field. name is copied unless static (a view of package
// memory); value is copied unless staticValue.
func (l *fieldList) add(name, value []byte, staticName, staticValue bool) {
	l.size += len(name) + len(value) + 32
	if l.discard || l.over {
		return
	}
	if l.size > l.max || len(l.fields) == cap(l.fields) {
		l.over = true
		return
	}
	need := 0
	if !staticName {
		need += len(name)
	}
	if !staticValue {
		need += len(value)
	}
	if len(l.buf)+need > cap(l.buf) {
		l.over = true // cannot happen while cap(buf) >= max; kept as a guard
		return
	}
	if !staticName {
		o := len(l.buf)
		l.buf = append(l.buf, name...)
		name = l.buf[o:len(l.buf):len(l.buf)]
	}
	if !staticValue {
		o := len(l.buf)
		l.buf = append(l.buf, value...)
		value = l.buf[o:len(l.buf):len(l.buf)]
	}
	l.fields = append(l.fields, Field{Name: name, Value: value})
}

// decoder is an HPACK decoder (RFC 7541) for one direction of one
// connection. It decodes a whole header block at a time (the connection
// gathers HEADERS and CONTINUATION fragments first), so no representation
// is ever split across calls.
type decoder struct {
	table   table
	limit   uint32       // the most a dynamic table size update may ask: our SETTINGS_HEADER_TABLE_SIZE
	scratch []byte       // a literal's decoded name and value
	huff    appendWriter // where x/net's Huffman decoder writes; a field so that passing it does not allocate
}

// init sets the decoder up for a connection whose SETTINGS advertise a
// table of limit bytes. The table starts at the protocol's 4096 (the peer
// may use that much until it has our SETTINGS); a size update may ask for
// up to the larger of the two.
func (d *decoder) init(limit uint32) {
	d.limit = max(limit, DefaultHeaderTableSize)
	d.table.max = DefaultHeaderTableSize
}

// decode decodes one complete header block into l.
func (d *decoder) decode(block []byte, l *fieldList) error {
	p := block
	first := true // size updates are allowed only before the first field (RFC 7541 §4.2)
	for len(p) > 0 {
		b := p[0]
		switch {
		case b&0x80 != 0: // §6.1 indexed field
			i, rest, ok := readInt(7, p)
			if !ok {
				return errHPACK
			}
			p = rest
			if err := d.indexed(i, l); err != nil {
				return err
			}
			first = false
		case b&0xc0 == 0x40: // §6.2.1 literal with incremental indexing
			rest, err := d.literal(6, p, l, true)
			if err != nil {
				return err
			}
			p, first = rest, false
		case b&0xe0 == 0x20: // §6.3 dynamic table size update
			if !first {
				return errHPACK
			}
			v, rest, ok := readInt(5, p)
			if !ok || v > uint64(d.limit) {
				return errHPACK
			}
			p = rest
			d.table.setMax(uint32(v))
		default: // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001)
			rest, err := d.literal(4, p, l, false)
			if err != nil {
				return err
			}
			p, first = rest, false
		}
	}
	return nil
}

func (d *decoder) indexed(i uint64, l *fieldList) error {
	switch {
	case i == 0:
		return errHPACK
	case i <= uint64(len(staticBytes)):
		e := &staticBytes[i-1]
		l.add(e[0], e[1], true, true)
		return nil
	}
	name, value, ok := d.table.at(i - uint64(len(staticBytes)))
	if !ok {
		return errHPACK
	}
	l.add(name, value, false, false)
	return nil
}

// literal decodes a literal field whose index prefix has n bits, adding it
// to the table when index is set.
func (d *decoder) literal(n uint8, p []byte, l *fieldList, index bool) ([]byte, error) {
	i, p, ok := readInt(n, p)
	if !ok {
		return nil, errHPACK
	}
	d.scratch = d.scratch[:0]
	var name []byte
	staticName := false
	if i > 0 {
		if i <= uint64(len(staticBytes)) {
			name, staticName = staticBytes[i-1][0], true
		} else {
			tn, _, ok := d.table.at(i - uint64(len(staticBytes)))
			if !ok {
				return nil, errHPACK
			}
			// Copied: adding the new entry may move the table's bytes.
			d.scratch = append(d.scratch, tn...)
		}
	} else {
		var err error
		if d.scratch, p, err = d.readString(d.scratch, p); err != nil {
			return nil, err
		}
		if len(d.scratch) == 0 {
			return nil, errHPACK
		}
	}
	nl := len(d.scratch)
	var err error
	if d.scratch, p, err = d.readString(d.scratch, p); err != nil {
		return nil, err
	}
	if !staticName {
		name = d.scratch[:nl]
	}
	value := d.scratch[nl:]
	l.add(name, value, staticName, false)
	if index {
		d.table.add(name, value)
	}
	return p, nil
}

// readInt reads an integer with an n-bit prefix (RFC 7541 §5.1). Values
// above 2^32 are refused: no length or index the package accepts is near.
func readInt(n uint8, p []byte) (uint64, []byte, bool) {
	if len(p) == 0 {
		return 0, p, false
	}
	mask := uint64(1)<<n - 1
	v := uint64(p[0]) & mask
	p = p[1:]
	if v < mask {
		return v, p, true
	}
	var shift uint
	for len(p) > 0 {
		b := p[0]
		p = p[1:]
		v += uint64(b&0x7f) << shift
		if v > 1<<32 {
			return 0, p, false
		}
		if b&0x80 == 0 {
			return v, p, true
		}
		shift += 7
	}
	return 0, p, false
}

// appendWriter appends what is written to a byte slice: how x/net's
// HuffmanDecode hands its output over without an allocation.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readString reads a string literal (RFC 7541 §5.2) and appends its decoded
// bytes to dst.
func (d *decoder) readString(dst, p []byte) ([]byte, []byte, error) {
	if len(p) == 0 {
		return dst, p, errHPACK
	}
	huff := p[0]&0x80 != 0
	n, p, ok := readInt(7, p)
	if !ok || n > uint64(len(p)) {
		return dst, p, errHPACK
	}
	s := p[:n]
	p = p[n:]
	if !huff {
		return append(dst, s...), p, nil
	}
	d.huff.b = dst
	// x/net's decoder refuses padding longer than 7 bits, padding that is
	// not the EOS prefix and an EOS symbol (RFC 7541 §5.2).
	_, err := hpack.HuffmanDecode(&d.huff, s)
	dst, d.huff.b = d.huff.b, nil
	if err != nil {
		return dst, p, errHPACK
	}
	return dst, p, nil
}

// table is HPACK's dynamic table (RFC 7541 §2.3.2, §4). Entries' bytes live
// in one buffer, appended in order and compacted when its end is reached,
// so that an entry costs no allocation; entries are a ring of offsets.
type table struct {
	data []byte // cap 2*max once used: live bytes are at most max
	ents []entry
	head int    // oldest entry
	n    int    // number of entries
	size uint32 // RFC 7541 §4.1 size: name + value + 32 per entry
	max  uint32
	cap0 uint32 // max when data and ents were sized
}

type entry struct{ off, nlen, vlen uint32 }

// at returns entry i, 1 being the newest.
func (t *table) at(i uint64) (name, value []byte, ok bool) {
	if i == 0 || i > uint64(t.n) {
		return nil, nil, false
	}
	e := t.ents[(t.head+t.n-int(i))%len(t.ents)]
	return t.data[e.off : e.off+e.nlen], t.data[e.off+e.nlen : e.off+e.nlen+e.vlen], true
}

func (t *table) evictOldest() {
	e := t.ents[t.head]
	t.size -= e.nlen + e.vlen + 32
	t.head = (t.head + 1) % len(t.ents)
	t.n--
}

func (t *table) setMax(v uint32) {
	t.max = v
	for t.size > t.max {
		t.evictOldest()
	}
}

// add inserts a new entry (RFC 7541 §4.4): older entries are evicted until
// it fits; an entry larger than the table empties it and is not added.
// name and value must not be views of the table.
func (t *table) add(name, value []byte) {
	sz := uint32(len(name)+len(value)) + 32
	if sz > t.max {
		for t.n > 0 {
			t.evictOldest()
		}
		return
	}
	for t.size+sz > t.max {
		t.evictOldest()
	}
	if t.ents == nil || t.max > t.cap0 {
		t.grow()
	}
	if len(t.data)+len(name)+len(value) > cap(t.data) {
		t.compact()
	}
	off := uint32(len(t.data))
	t.data = append(t.data, name...)
	t.data = append(t.data, value...)
	if t.n == len(t.ents) { // cannot happen: every entry costs 32
		t.evictOldest()
	}
	t.ents[(t.head+t.n)%len(t.ents)] = entry{off: off, nlen: uint32(len(name)), vlen: uint32(len(value))}
	t.n++
	t.size += sz
}

// grow sizes the buffers for t.max (once per connection, and again only if
// the peer's table grows past it).
func (t *table) grow() {
	old := *t
	t.cap0 = max(t.max, 64)
	t.data = make([]byte, 0, 2*t.cap0)
	t.ents = make([]entry, t.cap0/32+1)
	t.head, t.n = 0, 0
	for i := 0; i < old.n; i++ {
		e := old.ents[(old.head+i)%len(old.ents)]
		off := uint32(len(t.data))
		t.data = append(t.data, old.data[e.off:e.off+e.nlen+e.vlen]...)
		t.ents[i] = entry{off: off, nlen: e.nlen, vlen: e.vlen}
		t.n++
	}
}

// compact moves the live entries' bytes to the front of data.
func (t *table) compact() {
	w := uint32(0)
	for i := 0; i < t.n; i++ {
		e := &t.ents[(t.head+i)%len(t.ents)]
		l := e.nlen + e.vlen
		copy(t.data[w:w+l], t.data[e.off:e.off+l])
		e.off = w
		w += l
	}
	t.data = t.data[:w]
}
