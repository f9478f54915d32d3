package parser

// responseState is the resumable scanner state of a Response.
type responseState struct {
	headState
}

// Reset prepares r for the next message; Limits are kept. Slices from the
// previous message (Headers included) must not be used after Reset.
func (r *Response) Reset() {
	r.Minor, r.Status, r.Reason, r.Headers = 0, 0, nil, nil
	r.ContentLengthRaw, r.TransferEncoding, r.Connection, r.Upgrade = nil, nil, nil, nil
	r.CacheControl, r.ContentEncoding, r.ContentType = nil, nil, nil
	r.ContentLength, r.Body, r.KeepAlive = 0, BodyNone, false
	r.state.reset()
}

// Header returns the value of the first field named name (ASCII
// case-insensitive), or nil. It does not allocate.
func (r *Response) Header(name string) []byte { return lookup(r.Headers, name) }

// Parse parses a response head from buf; see the contract in message.go.
// headRequest says the request was HEAD, so the response has no body whatever
// its headers say. A 1xx response parses like any other (Body is BodyNone);
// the caller reads the final response after it. After a final error every
// further call returns the same error until Reset.
func (r *Response) Parse(buf []byte, headRequest bool) (int, error) {
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
	var (
		n   int
		err error
	)
	if h.stage < stLine {
		err = r.statusLine(buf, end, &lim)
	}
	if err == nil {
		n, err = h.fields(buf, end, &lim)
	}
	if err != nil {
		if err == ErrNeedMore {
			if end < len(buf) {
				return 0, h.fail(ErrHeadTooLarge)
			}
			return 0, err
		}
		return 0, h.fail(err)
	}
	if err := r.finish(buf, headRequest, &lim); err != nil {
		return 0, h.fail(err)
	}
	return n, nil
}

// statusLine scans the status line into h.minor, r.Status and the reason
// at buf[h.tStart:h.tEnd]. It scans "HTTP/1.1 200 reason\r\n" (RFC 9112 §4). The reason
// phrase may be empty and its SP may be missing, as many servers send.
func (r *Response) statusLine(buf []byte, end int, lim *resolved) error {
	h := &r.state.headState
	i := h.scan
	if h.stage == stStart {
		if end < 13 {
			return ErrNeedMore
		}
		_, minor, err := version(buf[:8])
		if err == nil && buf[8] != ' ' {
			err = ErrInvalidVersion
		}
		if err != nil {
			return err
		}
		d0, d1, d2 := buf[9], buf[10], buf[11]
		if !isDigit(d0) || !isDigit(d1) || !isDigit(d2) || d0 == '0' {
			return ErrInvalidStatus
		}
		r.Status = int(d0-'0')*100 + int(d1-'0')*10 + int(d2-'0')
		h.minor = uint8(minor)
		switch buf[12] {
		case ' ':
			i = 13
		case '\r', '\n':
			i = 12
		default:
			return ErrInvalidStatus
		}
		h.tStart = i
		h.stage = stReason
	}
	i = scanValue(buf, i, end)
	if i >= end {
		h.scan = i
		return ErrNeedMore
	}
	next := i + 1
	switch buf[i] {
	case '\r':
		if next >= end {
			h.scan = i
			return ErrNeedMore
		}
		if buf[next] != '\n' {
			return ErrLoneCR
		}
		next++
	case '\n':
		if !lim.bareLF {
			return ErrBareLF
		}
	default:
		return ErrInvalidReason
	}
	h.tEnd = i
	h.scan = next
	h.stage = stLine
	return nil
}

// finish sets the fields from the final buf and decides the framing
// (RFC 9112 §6.3 for responses).
func (r *Response) finish(buf []byte, headRequest bool, lim *resolved) error {
	h := &r.state.headState
	r.Minor = int(h.minor)
	r.Reason = buf[h.tStart:h.tEnd:h.tEnd]
	r.Headers = h.fieldArray()

	var f framing
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
		case nameUpgrade:
			keepFirst(&r.Upgrade, v)
		case nameContentType:
			keepFirst(&r.ContentType, v)
		case nameCacheControl:
			keepFirst(&r.CacheControl, v)
		case nameContentEncoding:
			keepFirst(&r.ContentEncoding, v)
		}
	}
	r.KeepAlive = f.keepAlive(r.Minor)
	r.ContentLength = -1
	if f.te && f.cls > 0 {
		// RFC 9112 §6.3 rule 3 lets Transfer-Encoding override, but calls
		// the message a likely smuggling or splitting attempt: refused.
		return ErrContentLengthWithTransferEncoding
	}
	if f.twice {
		return ErrChunkedTwice
	}
	if f.cls > 1 {
		return ErrDuplicateContentLength
	}
	if f.cls == 1 {
		n, err := parseContentLength(r.ContentLengthRaw)
		if err != nil {
			return err
		}
		r.ContentLength = n
	}
	switch {
	case headRequest || r.Status < 200 || r.Status == 204 || r.Status == 304:
		// RFC 9112 §6.3 rule 1: no body, whatever the headers say.
		r.Body = BodyNone
	case f.te:
		if f.lastChunked && r.Minor >= 1 {
			r.Body = BodyChunked
		} else {
			// RFC 9112 §6.3 rule 4: in a response, a final coding other
			// than chunked means the body runs to the connection's close.
			// §6.1: in HTTP/1.0 the framing is faulty; reading to the close
			// is the one reading that cannot be wrong about where the
			// next message starts.
			r.Body = BodyClose
		}
	case f.cls == 1:
		r.Body = BodyLength
		if r.ContentLength == 0 {
			r.Body = BodyNone
		}
	default:
		// RFC 9112 §6.3 rule 8: close-delimited.
		r.Body = BodyClose
	}
	if r.Body == BodyClose {
		r.KeepAlive = false
	}
	return nil
}
