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
	scan  int   // where scanning resumes
	n     int   // head length once stage == stDone
	err   error // once stage == stFailed

	// Start line: request method buf[line:mEnd], target buf[tStart:tEnd];
	// response reason buf[tStart:tEnd].
	line, mEnd, tStart, tEnd int

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
}

// reset keeps the header arrays, which are overwritten field by field.
func (h *headState) reset() {
	h.stage, h.minor, h.scan, h.n, h.err = stStart, 0, 0, 0, nil
	h.line, h.mEnd, h.tStart, h.tEnd = 0, 0, 0, 0
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
	p := unsafe.SliceData(buf)
	if p == h.base && cap(buf) == h.baseCap {
		return
	}
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

// knownName classifies a field name. It dispatches on the length first, so
// most names are rejected by one compare and only a candidate's bytes are
// looked at.
func knownName(name []byte) uint8 {
	switch len(name) {
	case 4:
		if equalLower(name, "host") {
			return nameHost
		}
	case 6:
		if equalLower(name, "expect") {
			return nameExpect
		}
	case 7:
		if equalLower(name, "upgrade") {
			return nameUpgrade
		}
	case 10:
		if equalLower(name, "connection") {
			return nameConnection
		}
	case 12:
		if equalLower(name, "content-type") {
			return nameContentType
		}
	case 13:
		if equalLower(name, "cache-control") {
			return nameCacheControl
		}
		if equalLower(name, "authorization") {
			return nameAuthorization
		}
	case 14:
		if equalLower(name, "content-length") {
			return nameContentLength
		}
	case 15:
		if equalLower(name, "accept-encoding") {
			return nameAcceptEncoding
		}
	case 16:
		if equalLower(name, "content-encoding") {
			return nameContentEncoding
		}
	case 17:
		if equalLower(name, "transfer-encoding") {
			return nameTransferEncoding
		}
	}
	return nameOther
}

// Versions as little-endian words, compared in one load.
var (
	http11 = binary.LittleEndian.Uint64([]byte("HTTP/1.1"))
	http10 = binary.LittleEndian.Uint64([]byte("HTTP/1.0"))
)

// version checks the 8 bytes of an HTTP-version (RFC 9112 §2.3: case
// sensitive "HTTP/" DIGIT "." DIGIT) and returns its major and minor.
func version(v []byte) (major, minor int, err error) {
	x := binary.LittleEndian.Uint64(v)
	if x == http11 {
		return 1, 1, nil
	}
	if x == http10 {
		return 1, 0, nil
	}
	if string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, 0, ErrInvalidVersion
	}
	return int(v[5] - '0'), int(v[7] - '0'), ErrVersionNotSupported
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
func (f *framing) addTE(v []byte) {
	f.te = true
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
	if len(v) == 10 && EqualFold(v, "keep-alive") {
		f.connKeep = true
		return
	}
	if len(v) == 5 && EqualFold(v, "close") {
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
