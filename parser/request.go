package parser

import "encoding/binary"

// "GET " and "POST" as little-endian words.
const (
	methodGET  = 'G' | 'E'<<8 | 'T'<<16 | ' '<<24
	methodPOST = 'P' | 'O'<<8 | 'S'<<16 | 'T'<<24
)

// requestState is the resumable scanner state of a Request.
type requestState struct {
	headState
}

// Reset prepares r for the next message; Limits are kept. Slices from the
// previous message (Headers included) must not be used after Reset.
func (r *Request) Reset() {
	r.Method, r.Target, r.Path, r.Query, r.Minor, r.Headers = nil, nil, nil, nil, 0, nil
	r.Host, r.ContentLengthRaw, r.TransferEncoding, r.Connection = nil, nil, nil, nil
	r.Upgrade, r.Expect, r.CacheControl, r.AcceptEncoding, r.Authorization = nil, nil, nil, nil, nil
	r.ContentLength, r.Body, r.KeepAlive, r.Expect100, r.IsHead = 0, BodyNone, false, false, false
	r.state.reset()
}

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil. It does not allocate.
func (r *Request) Header(name string) []byte { return lookup(r.Headers, name) }

// Parse parses a request head from buf; see the contract in message.go and the
// package documentation for what is rejected. After a final error every
// further call returns the same error until Reset.
func (r *Request) Parse(buf []byte) (int, error) {
	h := &r.state.headState
	switch h.stage {
	case stDone:
		return h.n, nil
	case stFailed:
		return 0, h.err
	}
	h.enter(buf)
	lim := r.Limits.resolve()
	end := len(buf)
	if end > lim.head {
		end = lim.head
	}
	if h.stage < stLine {
		if err := r.requestLine(buf, end, &lim); err != nil {
			if err == ErrNeedMore {
				return 0, err
			}
			return 0, h.fail(err)
		}
	}
	n, err := h.fields(buf, end, &lim)
	if err != nil {
		if err == ErrNeedMore {
			if end < len(buf) {
				return 0, h.fail(ErrHeadTooLarge)
			}
			return 0, err
		}
		return 0, h.fail(err)
	}
	if err := r.finish(buf, &lim); err != nil {
		return 0, h.fail(err)
	}
	return n, nil
}

// requestLine scans the request line (RFC 9112 §3) from where the last call
// stopped. end bounds the head; the line is further bounded by
// lim.requestLine.
func (r *Request) requestLine(buf []byte, end int, lim *resolved) error {
	h := &r.state.headState
	i := h.scan
	lend, v := end, 0
	if h.stage == stStart {
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line
		// before the request line. Any number is skipped; they count
		// against MaxHead.
		for {
			if i >= end {
				goto more
			}
			if buf[i] == '\r' {
				if i+1 >= end {
					goto more
				}
				if buf[i+1] != '\n' {
					return ErrLoneCR
				}
				i += 2
				continue
			}
			if buf[i] == '\n' {
				if !lim.bareLF {
					return ErrBareLF
				}
				i++
				continue
			}
			break
		}
		h.line = i
		h.stage = stMethod
	}
	// The request line may be lim.requestLine bytes plus its CRLF.
	lend = h.line + lim.requestLine + 2
	if lend > end {
		lend = end
	}
	switch h.stage {
	case stMethod:
		// Most methods are GET or POST: their letters are stepped over in
		// one compare, and the loop below starts at the byte after them.
		if i == h.line && lend-i >= 8 {
			switch binary.LittleEndian.Uint32(buf[i:]) {
			case methodGET:
				i += 3
			case methodPOST:
				i += 4
			}
		}
		for i < lend && tokenChar[buf[i]] {
			i++
		}
		if i >= lend {
			goto more
		}
		if buf[i] != ' ' || i == h.line {
			return ErrInvalidMethod
		}
		h.mEnd = i
		i++
		h.tStart = i
		h.stage = stTarget
		fallthrough
	case stTarget:
		i, h.query = scanTarget(buf, i, lend, h.query)
		if i >= lend {
			goto more
		}
		if buf[i] != ' ' || i == h.tStart {
			if i > h.tStart && (buf[i] == '\r' || buf[i] == '\n') {
				return ErrInvalidVersion // "GET /" without a version (HTTP/0.9)
			}
			return ErrInvalidTarget
		}
		h.tEnd = i
		i++
		h.stage = stVersion
		fallthrough
	case stVersion:
		v = h.tEnd + 1
		if lend-v < 9 {
			goto more
		}
		i = v + 9
		switch buf[v+8] {
		case '\r':
			if i >= lend {
				goto more
			}
			if buf[i] != '\n' {
				return ErrInvalidVersion
			}
			i++
		case '\n':
			if !lim.bareLF {
				return ErrBareLF
			}
		default:
			return ErrInvalidVersion
		}
		var major, minor int
		var err error
		switch binary.LittleEndian.Uint64(buf[v:]) {
		case http11:
			minor = 1
		case http10:
		default:
			major, minor, err = version(buf[v : v+8])
		}
		if err != nil {
			if major == 2 && minor == 0 && string(buf[h.line:h.mEnd]) == "PRI" && string(buf[h.tStart:h.tEnd]) == "*" {
				return ErrHTTP2Preface
			}
			return err
		}
		h.minor = uint8(minor)
		h.stage, h.lined = stLine, true
		h.scan = i
		return nil
	}
more:
	h.scan = i
	if lend < len(buf) {
		// The buffer goes on past a bound the line has not ended within.
		if lend == h.line+lim.requestLine+2 && h.stage != stStart {
			return ErrURITooLong
		}
		return ErrHeadTooLarge
	}
	return ErrNeedMore
}

// Line returns the method, path and query of the request line once Parse
// has scanned it whole, as views into buf (the buffer given to the last
// Parse call), including when Parse then refused the head in its fields
// (too large, a bad field, ambiguous framing); nil before the line is
// complete or when the line itself was refused. It lets a caller log what
// a refused request asked for. It does not allocate.
func (r *Request) Line(buf []byte) (method, path, query []byte) {
	h := &r.state.headState
	if !h.lined || h.tEnd > len(buf) {
		return nil, nil, nil
	}
	method = buf[h.line:h.mEnd:h.mEnd]
	path = buf[h.tStart:h.tEnd:h.tEnd]
	if q := h.query; q != 0 {
		path, query = buf[h.tStart:q:q], buf[q+1:h.tEnd:h.tEnd]
	}
	return method, path, query
}

// finish sets the fields from the final buf and decides the framing
// (RFC 9112 §6.3 for requests).
func (r *Request) finish(buf []byte, lim *resolved) error {
	h := &r.state.headState
	r.Method = buf[h.line:h.mEnd:h.mEnd]
	r.Target = buf[h.tStart:h.tEnd:h.tEnd]
	r.Path, r.Query = r.Target, nil
	if q := h.query; q != 0 {
		r.Path, r.Query = buf[h.tStart:q:q], buf[q+1:h.tEnd:h.tEnd]
	}
	r.Minor = int(h.minor)
	r.IsHead = string(r.Method) == "HEAD"
	r.Headers = h.fieldArray()

	var f framing
	hosts := 0
	for j := 0; j < h.nknown; j++ {
		v := r.Headers[h.knownAt[j]].Value
		switch h.knownName[j] {
		case nameConnection:
			keepFirst(&r.Connection, v)
			f.addConnection(v)
		case nameContentLength:
			f.cls++
			keepFirst(&r.ContentLengthRaw, v)
		case nameTransferEncoding:
			keepFirst(&r.TransferEncoding, v)
			f.addTE(v)
		case nameHost:
			hosts++
			keepFirst(&r.Host, v)
		case nameExpect:
			keepFirst(&r.Expect, v)
		case nameUpgrade:
			keepFirst(&r.Upgrade, v)
		case nameAuthorization:
			keepFirst(&r.Authorization, v)
		case nameCacheControl:
			keepFirst(&r.CacheControl, v)
		case nameAcceptEncoding:
			keepFirst(&r.AcceptEncoding, v)
		}
	}
	if hosts > 1 {
		return ErrDuplicateHost
	}
	if hosts == 0 && r.Minor >= 1 {
		return ErrMissingHost
	}
	if hosts == 1 && !validHost(r.Host) {
		return ErrInvalidHost
	}
	if len(r.Path) > 0 && r.Path[0] != '/' && !(len(r.Target) == 1 && r.Target[0] == '*') {
		if err := r.absoluteForm(); err != nil {
			return err
		}
	}
	r.KeepAlive = f.keepAlive(r.Minor)
	r.ContentLength = -1
	r.Body = BodyNone
	switch {
	case f.te:
		if f.cls > 0 {
			return ErrContentLengthWithTransferEncoding
		}
		if r.Minor == 0 {
			return ErrTransferEncodingHTTP10
		}
		if f.twice {
			return ErrChunkedTwice
		}
		if !f.lastChunked {
			return ErrChunkedNotFinal
		}
		if f.unknown {
			return ErrUnknownTransferCoding
		}
		r.Body = BodyChunked
	case f.cls > 1:
		return ErrDuplicateContentLength
	case f.cls == 1:
		n, err := parseContentLength(r.ContentLengthRaw)
		if err != nil {
			return err
		}
		r.ContentLength = n
		if n > 0 {
			r.Body = BodyLength
		}
	}
	r.Expect100 = r.Minor >= 1 && r.Expect != nil && EqualFold(r.Expect, "100-continue")
	return nil
}

// absoluteForm takes an absolute-form target ("http://host:port/path?q",
// RFC 9112 §3.2.2) apart: Path becomes the path ("/" when empty) and Host
// the authority, which replaces the Host field (a server MUST ignore the
// field then). Other targets are left for the router to refuse, CONNECT's
// authority-form included.
func (r *Request) absoluteForm() error {
	t := r.Path // the target up to '?'
	var rest []byte
	switch {
	case len(t) > 7 && EqualFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && EqualFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return nil
	}
	end := 0
	for end < len(rest) && rest[end] != '/' {
		end++
	}
	authority := rest[:end:end]
	if len(authority) == 0 || !validHost(authority) {
		return ErrInvalidHost
	}
	r.Host = authority
	r.Path = rest[end:len(rest):len(rest)]
	if len(r.Path) == 0 {
		r.Path = rootPath
	}
	return nil
}

// rootPath is the path of an absolute-form target without one. It is never
// written to.
var rootPath = []byte("/")

// validHost reports whether h is uri-host [":" port] (RFC 3986 §3.2.2,
// §3.2.3) or empty (RFC 9110 §7.2 allows an empty Host): a reg-name of
// unreserved, pct-encoded and sub-delims bytes, an IPv4 address (a
// reg-name's bytes), or an IP-literal in brackets; no userinfo.
func validHost(h []byte) bool {
	i := 0
	if len(h) > 0 && h[0] == '[' {
		for i = 1; i < len(h) && h[i] != ']'; i++ {
			if !ipLiteralChar[h[i]] {
				return false
			}
		}
		if i == len(h) || i == 1 {
			return false // no ']', or "[]"
		}
		i++
	} else {
		for i < len(h) && regNameChar[h[i]] {
			i++
		}
	}
	if i == len(h) {
		return true
	}
	if h[i] != ':' {
		return false
	}
	for i++; i < len(h); i++ {
		if !isDigit(h[i]) {
			return false
		}
	}
	return true
}
