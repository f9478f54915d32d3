package parser

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Stages of the head scanner. A partial head stops in one of them and the
// next Parse resumes there, at headState.scan, so no byte is examined twice.
const (
	stStart   uint8 = iota // before the start line
	stMethod               // request: in the method
	stTarget               // request: in the request-target
	stVersion              // request: in the version
	stReason               // response: in the reason phrase
	stLine                 // at the start of a field line or of the final CRLF
	stName                 // in a field name
	stOWS                  // after the colon, before the value
	stValue                // in a field value
	stDone                 // head complete; n is its length
	stFailed               // a final error; err holds it
)

// inlineHeaders is how many Header values a Request or Response holds
// without a heap array; heads with more fields use one allocated on first
// need and kept across Reset.
const inlineHeaders = 32

// headState is the resumable part shared by requests and responses.
//
// Field lines are recorded as Header sub-slices of the buffer as they are
// scanned, so a head that arrives in one piece is not walked twice. The
// caller may pass a re-allocated buffer on the next call; base and baseCap
// remember the buffer the slices point into, and rebase moves them to the
// new one using the offsets implied by their capacities (a sub-slice
// buf[a:b] has capacity cap(buf)-a).
type headState struct {
	stage uint8
	minor uint8
	lined bool  // the request line was scanned whole (kept after a failure in the fields)
	scan  int   // where scanning resumes
	n     int   // head length once stage == stDone
	err   error // once stage == stFailed

	// Start line: request method buf[line:mEnd], target buf[tStart:tEnd];
	// response reason buf[tStart:tEnd]. query is the index of the first '?'
	// in the target, or 0 while none was seen (a target never starts at 0).
	line, mEnd, tStart, tEnd, query int

	// The field line being scanned: name from mark, colon at nameEnd, value
	// from valStart.
	mark, nameEnd, valStart int

	base    *byte // unsafe.SliceData of the buffer the recorded fields point into
	baseCap int

	nfields int
	// The fields whose names are among the known ones, recognised as they
	// are scanned: field number knownAt[j] has name knownName[j].
	nknown    int
	knownAt   [MaxHeadersCap]uint8
	knownName [MaxHeadersCap]uint8
	inline    [inlineHeaders]Header
	heap      []Header // all fields once there are more than inlineHeaders

	// spans is where plainLines has the lines it records found; here
	// rather than on its stack, which would be cleared on every call.
	spans [plainBatch][4]uint32
}

// reset keeps the header arrays, which are overwritten field by field.
func (h *headState) reset() {
	h.stage, h.minor, h.scan, h.n, h.err, h.lined = stStart, 0, 0, 0, nil, false
	h.line, h.mEnd, h.tStart, h.tEnd, h.query = 0, 0, 0, 0, 0
	h.mark, h.nameEnd, h.valStart, h.nfields, h.nknown = 0, 0, 0, 0, 0
	h.base, h.baseCap = nil, 0
}

func (h *headState) fail(err error) error {
	h.stage, h.err = stFailed, err
	return err
}

// enter is called at the start of every Parse on an unfinished head: if buf
// is not the buffer the recorded fields point into, they are moved to it.
func (h *headState) enter(buf []byte) {
	if unsafe.SliceData(buf) != h.base || cap(buf) != h.baseCap {
		h.move(buf)
	}
}

// move moves the recorded fields to buf, for enter.
func (h *headState) move(buf []byte) {
	p := unsafe.SliceData(buf)
	if h.nfields > 0 {
		hs := h.fieldArray()
		for k := range hs {
			f := &hs[k]
			ns := h.baseCap - cap(f.Name)
			vs := h.baseCap - cap(f.Value)
			f.Name = buf[ns : ns+len(f.Name)]
			f.Value = buf[vs : vs+len(f.Value)]
		}
	}
	h.base, h.baseCap = p, cap(buf)
}

// fieldArray returns the recorded fields.
func (h *headState) fieldArray() []Header {
	if h.heap != nil {
		return h.heap[:h.nfields]
	}
	return h.inline[:h.nfields]
}

// grow moves the recorded fields to a heap array with room for lim.headers
// (which is always more than h.nfields here) and returns it. Once a head has
// had more fields than the inline array holds, the heap array is used from
// the first field on for every later head, so nothing is copied again.
func (h *headState) grow(lim *resolved) []Header {
	heap := make([]Header, lim.headers)
	copy(heap, h.fieldArray())
	h.heap = heap
	return heap
}

// fields scans field lines from h.scan up to end and returns the head length
// once the empty line that ends the head has been consumed. ErrNeedMore
// means buf[:end] ended inside the field section. The scanning loops are
// written out here rather than called: fields are short, so per-field call
// overhead would be a large part of the cost.
func (h *headState) fields(buf []byte, end int, lim *resolved) (int, error) {
	i := h.scan
	stage, mark, nameEnd, valStart := h.stage, h.mark, h.nameEnd, h.valStart
	nf, maxFields := h.nfields, lim.headers
	arr := h.inline[:]
	if h.heap != nil {
		arr = h.heap
	}
	for {
		switch stage {
		case stLine:
			if end-i >= 8 && nf < maxFields && nf < len(arr) {
				var done bool
				if i, nf, done = h.plainLines(buf, i, end, nf, min(maxFields, len(arr)), arr); done {
					h.stage, h.n, h.nfields = stDone, i, nf
					return i, nil
				}
			}
			if i >= end {
				goto more
			}
			switch buf[i] {
			case '\r':
				if i+1 >= end {
					goto more
				}
				if buf[i+1] != '\n' {
					return 0, ErrLoneCR
				}
				h.stage, h.n, h.nfields = stDone, i+2, nf
				return i + 2, nil
			case '\n':
				if !lim.bareLF {
					return 0, ErrBareLF
				}
				h.stage, h.n, h.nfields = stDone, i+1, nf
				return i + 1, nil
			case ' ', '\t':
				// RFC 9112 §5.2 (obs-fold) and §2.2 (whitespace before
				// the first field): rejected, never unfolded.
				return 0, ErrObsFold
			}
			mark = i
			stage = stName
			fallthrough
		case stName:
			// Eight bytes at a time while they are letters, digits or '-'
			// (nearly every field name), then the exact table.
			for i+8 <= end {
				if m := notAlnumDash(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
				i += 8
			}
			if i >= end || buf[i] != ':' {
				for i < end && tokenChar[buf[i]] {
					i++
				}
				if i >= end {
					goto more
				}
			}
			if buf[i] != ':' {
				if buf[i] == ' ' || buf[i] == '\t' {
					return 0, ErrSpaceBeforeColon
				}
				return 0, ErrInvalidHeaderName
			}
			if i == mark {
				return 0, ErrEmptyHeaderName
			}
			nameEnd = i
			i++
			stage = stOWS
			fallthrough
		case stOWS:
			for i < end && (buf[i] == ' ' || buf[i] == '\t') {
				i++
			}
			if i >= end {
				goto more
			}
			valStart = i
			stage = stValue
			fallthrough
		case stValue:
			// scanValue, written out, sixteen bytes per round while
			// there are that many: values are mostly tens of bytes.
			for i+16 <= end {
				mx := ctlMask(binary.LittleEndian.Uint64(buf[i:]))
				my := ctlMask(binary.LittleEndian.Uint64(buf[i+8:]))
				if mx|my == 0 {
					i += 16
					continue
				}
				// The first flagged byte of the sixteen (a conditional
				// move rather than a branch).
				t := bits.TrailingZeros64(mx)
				if mx == 0 {
					t = 64 + bits.TrailingZeros64(my)
				}
				i += t >> 3
				if buf[i] != '\t' {
					goto valueEnd
				}
				i++
			}
			for i+8 <= end {
				if m := ctlMask(binary.LittleEndian.Uint64(buf[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					if buf[i] != '\t' {
						goto valueEnd
					}
					i++
					continue
				}
				i += 8
			}
			for i < end && valueChar[buf[i]] {
				i++
			}
			if i >= end {
				goto more
			}
		valueEnd:
			next := i + 1
			switch buf[i] {
			case '\r':
				if next >= end {
					goto more
				}
				if buf[next] != '\n' {
					return 0, ErrLoneCR
				}
				next++
			case '\n':
				if !lim.bareLF {
					return 0, ErrBareLF
				}
			default:
				return 0, ErrInvalidHeaderValue
			}
			if nf >= maxFields {
				return 0, ErrTooManyHeaders
			}
			ve := i
			for ve > valStart && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
				ve--
			}
			// Two-index slices: enter relies on their capacity.
			if nf >= len(arr) {
				h.nfields = nf
				arr = h.grow(lim)
			}
			name := buf[mark:nameEnd]
			p := &arr[nf]
			p.Name = name
			p.Value = buf[valStart:ve]
			if kn := knownName(name); kn != nameOther {
				h.knownAt[h.nknown] = uint8(nf)
				h.knownName[h.nknown] = kn
				h.nknown++
			}
			nf++
			i = next
			stage = stLine
		}
	}
more:
	h.scan, h.nfields = i, nf
	h.stage, h.mark, h.nameEnd, h.valStart = stage, mark, nameEnd, valStart
	return 0, ErrNeedMore
}

// plainBatch is how many lines a call of scanPlainLines reports at most.
const plainBatch = 32

// plainLines is the fast path of fields. From i, the start of a field line,
// it records field lines for as long as each is whole in buf[:end] and
// plain: a name of ASCII letters, digits and '-', a colon, a value of
// valueChar bytes, CRLF. It consumes the final CRLF if it gets to it and
// then returns done. It stops at the start of any other line and of the
// line that would be field number maxf, and leaves that line to the general
// scanner in fields, which gives the precise error, waits for more bytes or
// grows the array. A stopped line was examined twice, so the fast path
// runs again only from the start of a later line; the total work stays
// linear.
//
// The lines are found by scanPlainLines (SSE2 assembly on amd64) and by
// scanPlainLinesGo, which takes what the assembly leaves (lines with HTAB in
// the value) and everything elsewhere; then they are recorded here, in one
// loop for both.
func (h *headState) plainLines(buf []byte, i, end, nf, maxf int, arr []Header) (int, int, bool) {
	if end > len(buf) || end < 8 || maxf > len(arr) {
		return i, nf, false
	}
	p := unsafe.SliceData(buf)
	spans := &h.spans
	nknown := h.nknown
	for i < end && nf < maxf {
		max := min(maxf-nf, plainBatch)
		n, next, done := 0, i, false
		if haveScanLines && end-i >= 16 {
			n, next, done = scanPlainLines(p, i, end, max, spans)
			if n == 0 && !done {
				// One line in Go, then the assembly again.
				n, next, done = scanPlainLinesGo(p, i, end, 1, spans)
			}
		} else {
			n, next, done = scanPlainLinesGo(p, i, end, max, spans)
		}
		for _, s := range spans[:min(n, len(spans))] {
			j, vs, ve, k := int(s[0]), int(s[1]), int(s[2]), int(s[3])
			// Two-index slices: enter relies on their capacity.
			name := buf[i:j]
			f := &arr[nf]
			f.Name = name
			f.Value = buf[vs:ve]
			if n := j - i; n <= maxKnownLen && knownFirst[n]>>(byteAt(p, i)&31)&1 != 0 {
				// knownName on the bytes at hand (n >= 4: knownFirst
				// has no bits for shorter names).
				const fold = 0x2020202020202020
				var lo, hi, mid uint64
				if n >= 8 {
					lo, hi = load64(p, i)|fold, load64(p, j-8)|fold
					if n > 16 {
						mid = load64(p, i+8) | fold
					}
				} else {
					lo = uint64(binary.LittleEndian.Uint32(name)) | fold>>32
					hi = uint64(binary.LittleEndian.Uint32(name[n-4:])) | fold>>32
				}
				if kn := knownWords(n, lo, hi, mid); kn != nameOther {
					h.knownAt[nknown&(MaxHeadersCap-1)] = uint8(nf)
					h.knownName[nknown&(MaxHeadersCap-1)] = kn
					nknown++
				}
			}
			nf++
			i = k + 2
		}
		if done {
			h.nknown = nknown
			return next, nf, true
		}
		if n == 0 {
			break
		}
	}
	h.nknown = nknown
	return i, nf, false
}

// scanPlainLinesGo is scanPlainLines in Go, which also takes lines with
// HTAB in the value, and needs end >= 8 rather than 16. Words that run past
// end load zeros there, which every mask here flags.
//
// Each line is scanned for its end first, for the first control byte from
// its start: in a plain line that is the CR, since neither the name nor the
// value holds one. The next line's start depends only on that scan, so the
// name's check, which needs other masks, is not on the chain of dependent
// loads from one line to the next and overlaps with it.
//
// The words are loaded without bounds checks (load64): every load is of
// bytes in p[:end], which the caller guarantees is inside the buffer and
// word preserves.
func scanPlainLinesGo(p *byte, i, end, max int, spans *[plainBatch][4]uint32) (n, next int, done bool) {
	if end < 8 {
		return 0, i, false
	}
	for i < end && n < max && n < len(spans) {
		// The line's end: sixteen bytes per round while there are as
		// many, then by words that end at end and load zeros (flagged)
		// past it. HTAB is stepped over.
		k := i
		for {
			if k+16 <= end {
				mx := ctlMask(load64(p, k))
				my := ctlMask(load64(p, k+8))
				if mx|my == 0 {
					k += 16
					continue
				}
				t := bits.TrailingZeros64(my) + 64
				if mx != 0 {
					t = bits.TrailingZeros64(mx)
				}
				k += t >> 3
			} else {
				m := ctlMask(word(p, k, end))
				if m == 0 {
					k += 8
					continue
				}
				k += bits.TrailingZeros64(m) >> 3
			}
			if k >= end || byteAt(p, k) != '\t' {
				break
			}
			k++
		}
		if k+1 >= end || load16(p, k) != '\r'|'\n'<<8 {
			break
		}
		if k == i {
			return n, k + 2, true // the empty line that ends the head
		}
		// The name: letters, digits and '-' up to the colon, which comes
		// before k if the line is plain (k is its first control byte).
		j := i
		m := notAlnumDash(word(p, j, end))
		for m == 0 {
			j += 8
			m = notAlnumDash(word(p, j, end))
		}
		j += bits.TrailingZeros64(m) >> 3
		if j >= k || j == i || byteAt(p, j) != ':' {
			break
		}
		vs := j + 1
		for vs < k && (byteAt(p, vs) == ' ' || byteAt(p, vs) == '\t') {
			vs++
		}
		ve := k
		for ve > vs && (byteAt(p, ve-1) == ' ' || byteAt(p, ve-1) == '\t') {
			ve--
		}
		spans[n] = [4]uint32{uint32(j), uint32(vs), uint32(ve), uint32(k)}
		n++
		i = k + 2
	}
	return n, i, false
}

// load16 loads the little-endian 16-bit word at p+i without a bounds check;
// the caller guarantees that p[i:i+2] is inside the buffer.
func load16(p *byte, i int) uint16 {
	return binary.LittleEndian.Uint16((*[2]byte)(unsafe.Add(unsafe.Pointer(p), i))[:])
}

// load64 loads the little-endian word at p+i without a bounds check; the
// caller guarantees that p[i:i+8] is inside the buffer.
func load64(p *byte, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(unsafe.Pointer(p), i))[:])
}

// byteAt is p[i] without a bounds check; the caller guarantees i is inside
// the buffer.
func byteAt(p *byte, i int) byte { return *(*byte)(unsafe.Add(unsafe.Pointer(p), i)) }

// word is the little-endian word of the eight bytes at p+i, with the bytes
// at end and past it read as zero (which every SWAR mask here flags). It
// loads only from p[:end], which needs end >= 8 and i <= end.
func word(p *byte, i, end int) uint64 {
	if i+8 <= end {
		return load64(p, i)
	}
	return load64(p, end-8) >> (uint(i+8-end) * 8)
}

// Field names the parser recognises for Request and Response.
const (
	nameOther uint8 = iota
	nameHost
	nameExpect
	nameUpgrade
	nameConnection
	nameAuthorization
	nameCacheControl
	nameContentLength
	nameAcceptEncoding
	nameTransferEncoding
	nameContentType
	nameContentEncoding
)

// knownNames holds, by length, the field names the parser recognises as the
// words knownName compares: at most two names share a length.
var knownNames [maxKnownLen + 1][2]knownEntry

// maxKnownLen is the length of the longest recognised name,
// transfer-encoding.
const maxKnownLen = 17

// knownFirst[n] has bit c&31 set when a recognised name of length n starts
// with byte c (in either case): a filter that spares knownName most of the
// names it would not recognise. Bytes other than letters may pass it.
var knownFirst [maxKnownLen + 1]uint32

type knownEntry struct {
	lo, hi, mid uint64
	id          uint8
}

func init() {
	for _, k := range []struct {
		name string
		id   uint8
	}{
		{"host", nameHost}, {"expect", nameExpect}, {"upgrade", nameUpgrade},
		{"connection", nameConnection}, {"authorization", nameAuthorization},
		{"cache-control", nameCacheControl}, {"content-length", nameContentLength},
		{"accept-encoding", nameAcceptEncoding}, {"transfer-encoding", nameTransferEncoding},
		{"content-type", nameContentType}, {"content-encoding", nameContentEncoding},
	} {
		lo, hi, mid := nameWords([]byte(k.name))
		e := &knownNames[len(k.name)]
		slot := 0
		if e[0].id != nameOther {
			slot = 1
		}
		e[slot] = knownEntry{lo, hi, mid, k.id}
		knownFirst[len(k.name)] |= 1 << (k.name[0] & 31)
	}
}

// nameWords folds a field name of 4 to maxKnownLen token characters into
// the words knownName compares: the first and the last eight bytes (four
// and four below eight), which cover the name, and for names longer than
// sixteen bytes bytes 8 to 15 as well. OR-ing 0x20 into every byte folds
// case exactly for the names compared, which hold only lowercase letters
// and '-': among token characters only 'A'-'Z' map onto 'a'-'z', and only
// CR (not a token character) onto '-'. The names are stored lowercase, so
// the stored words are unchanged by it.
func nameWords(name []byte) (lo, hi, mid uint64) {
	const fold = 0x2020202020202020
	n := len(name)
	if n < 8 {
		lo = uint64(binary.LittleEndian.Uint32(name)) | fold>>32
		hi = uint64(binary.LittleEndian.Uint32(name[n-4:])) | fold>>32
		return lo, hi, 0
	}
	lo = binary.LittleEndian.Uint64(name) | fold
	hi = binary.LittleEndian.Uint64(name[n-8:]) | fold
	if n > 16 {
		mid = binary.LittleEndian.Uint64(name[8:]) | fold
	}
	return lo, hi, mid
}

// knownName classifies a field name, which holds only token characters.
// The length picks at most two candidates, and a candidate is compared in two
// or three word compares rather than byte by byte.
func knownName(name []byte) uint8 {
	n := len(name)
	if n < 4 || n > maxKnownLen {
		return nameOther
	}
	lo, hi, mid := nameWords(name)
	return knownWords(n, lo, hi, mid)
}

// knownWords looks up a name of length n <= maxKnownLen by its nameWords.
func knownWords(n int, lo, hi, mid uint64) uint8 {
	e := &knownNames[n]
	if lo == e[0].lo && hi == e[0].hi && mid == e[0].mid {
		return e[0].id
	}
	if lo == e[1].lo && hi == e[1].hi && mid == e[1].mid {
		return e[1].id
	}
	return nameOther
}

// Versions as little-endian words, compared in one load.
const (
	http1x = 'H' | 'T'<<8 | 'T'<<16 | 'P'<<24 | '/'<<32 | '1'<<40 | '.'<<48
	http11 = http1x | '1'<<56
	http10 = http1x | '0'<<56
)

// version checks the 8 bytes of an HTTP-version (RFC 9112 §2.3: case
// sensitive "HTTP/" DIGIT "." DIGIT) and returns its major and minor.
// Callers test for HTTP/1.1 and HTTP/1.0 first, inline.
func version(v []byte) (major, minor int, err error) {
	switch binary.LittleEndian.Uint64(v) {
	case http11:
		return 1, 1, nil
	case http10:
		return 1, 0, nil
	}
	if string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, ErrInvalidVersion
	}
	major, minor = int(v[5]-'0'), int(v[7]-'0')
	if major == 1 {
		// RFC 9112 §2.3: a later 1.x minor version is served as the highest
		// minor version the recipient supports.
		return 1, 1, nil
	}
	return major, minor, ErrVersionNotSupported
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// framing accumulates what the framing headers say over all fields.
type framing struct {
	cls         int  // Content-Length fields seen
	te          bool // a Transfer-Encoding field was seen
	chunked     bool // chunked was among the codings
	lastChunked bool // chunked was the last coding so far
	twice       bool // chunked appeared more than once
	unknown     bool // a coding other than chunked, gzip, deflate, compress
	connClose   bool // Connection: close
	connKeep    bool // Connection: keep-alive
}

// addTE folds one Transfer-Encoding field value into f. The codings of all
// fields form one list, in order (RFC 9110 §5.3).
// keepFirst stores v in *dst unless a value is there already: the parsed
// fields expose the first occurrence of a repeated field.
func keepFirst(dst *[]byte, v []byte) {
	if *dst == nil {
		*dst = v
	}
}

func (f *framing) addTE(v []byte) {
	f.te = true
	if shortValueIs(v, "chunked") {
		// The common value, whole.
		f.twice = f.twice || f.chunked
		f.chunked, f.lastChunked = true, true
		return
	}
	for len(v) > 0 {
		var el []byte
		if i := indexByte2(v, ','); i >= 0 {
			el, v = v[:i], v[i+1:]
		} else {
			el, v = v, nil
		}
		el = listElement(el)
		if len(el) == 0 {
			continue // empty list elements are allowed (RFC 9110 §5.6.1)
		}
		if EqualFold(el, "chunked") {
			if f.chunked {
				f.twice = true
			}
			f.chunked, f.lastChunked = true, true
			continue
		}
		f.lastChunked = false
		if !knownCoding(el) {
			f.unknown = true
		}
	}
}

// knownCoding: the transfer codings registered by RFC 9112 §7 besides
// chunked. "identity" was removed by RFC 7230 and counts as unknown.
func knownCoding(c []byte) bool {
	return EqualFold(c, "gzip") || EqualFold(c, "deflate") || EqualFold(c, "compress") ||
		EqualFold(c, "x-gzip") || EqualFold(c, "x-compress")
}

// addConnection looks for close and keep-alive in one pass over the list.
func (f *framing) addConnection(v []byte) {
	// The common values, whole.
	if valueIs(v, "keep-alive") {
		f.connKeep = true
		return
	}
	if shortValueIs(v, "close") {
		f.connClose = true
		return
	}
	for len(v) > 0 {
		var el []byte
		if i := indexByte2(v, ','); i >= 0 {
			el, v = v[:i], v[i+1:]
		} else {
			el, v = v, nil
		}
		el = listElement(el)
		switch len(el) {
		case 5:
			if EqualFold(el, "close") {
				f.connClose = true
			}
		case 10:
			if EqualFold(el, "keep-alive") {
				f.connKeep = true
			}
		}
	}
}

// valueIs reports whether the field value v equals lower, ASCII
// case-insensitively, where lower is 8 to 16 lowercase letters and '-'. It
// compares two overlapping words of each (OR-ing 0x20 folds case exactly
// here: of the bytes a field value may hold only 'A'-'Z' map onto 'a'-'z',
// and only '-' itself onto '-', CR being excluded).
func valueIs(v []byte, lower string) bool {
	n := len(lower)
	l := unsafe.Slice(unsafe.StringData(lower), n)
	const fold = 0x2020202020202020
	return len(v) == n && binary.LittleEndian.Uint64(v)|fold == binary.LittleEndian.Uint64(l) &&
		binary.LittleEndian.Uint64(v[n-8:])|fold == binary.LittleEndian.Uint64(l[n-8:])
}

// shortValueIs is valueIs for lower of 4 to 8 bytes.
func shortValueIs(v []byte, lower string) bool {
	n := len(lower)
	l := unsafe.Slice(unsafe.StringData(lower), n)
	return len(v) == n && binary.LittleEndian.Uint32(v)|0x20202020 == binary.LittleEndian.Uint32(l) &&
		binary.LittleEndian.Uint32(v[n-4:])|0x20202020 == binary.LittleEndian.Uint32(l[n-4:])
}

// keepAlive is the version default adjusted by Connection (RFC 9112 §9.3).
func (f *framing) keepAlive(minor int) bool {
	if f.connClose {
		return false
	}
	return minor >= 1 || f.connKeep
}

// parseContentLength parses 1*DIGIT (RFC 9110 §8.6). Anything else is
// refused rather than guessed at: a sign, whitespace inside, a list.
func parseContentLength(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, ErrInvalidContentLength
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			if c == ',' {
				return 0, ErrDuplicateContentLength
			}
			return 0, ErrInvalidContentLength
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, ErrContentLengthOverflow
		}
		n = n*10 + d
	}
	return n, nil
}

// lookup is the case-insensitive search behind Request.Header and
// Response.Header.
func lookup(hs []Header, name string) []byte {
	for k := range hs {
		if len(hs[k].Name) == len(name) && EqualFold(hs[k].Name, name) {
			return hs[k].Value
		}
	}
	return nil
}
