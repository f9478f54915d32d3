package parser

// Chunked decodes a chunked body (RFC 9112 §7.1) incrementally, chunk
// extensions and trailer fields included. The zero value is ready; Reset it
// between bodies. It never allocates.
type Chunked struct {
	state chunkedState
}

// Stages of the chunked decoder.
const (
	chSize    uint8 = iota // in the chunk-size hex digits
	chExt                  // after the size: BWS, then ';' extensions, up to CR
	chSizeLF               // after the size line's CR
	chData                 // in chunk data; left bytes remain
	chDataCR               // after chunk data, expecting CR
	chDataLF               // expecting LF
	chTLine                // at the start of a trailer field line or the final CRLF
	chTName                // in a trailer field name
	chTValue               // in a trailer field value
	chTLF                  // after a trailer line's CR
	chFinalLF              // after the final CR
	chDone                 // last chunk and trailer section consumed
	chFailed               // a final error
)

// chunkedState is the resumable state of a Chunked decoder.
type chunkedState struct {
	stage   uint8
	ext     bool  // a ';' was seen on this size line
	bws     bool  // whitespace was seen after the size
	line    int   // bytes of the current size line
	trailer int   // bytes of the trailer section
	size    int64 // the chunk size being read, then the data bytes left
	err     error
}

// Reset prepares c for the next body.
func (c *Chunked) Reset() { c.state = chunkedState{} }

// TrailerBytes is how many bytes of the trailer section (its field lines
// and the final CRLF) were consumed so far: Decode's caller finds the
// trailer section at the end of what a call consumed, the difference.
func (c *Chunked) TrailerBytes() int { return c.state.trailer }

// Done reports whether the whole body, trailers included, was consumed.
func (c *Chunked) Done() bool { return c.state.stage == chDone }

// Decode consumes chunked framing and payload from buf. It returns how many
// bytes of buf it consumed, the payload bytes found in them (a sub-slice of
// buf, at most one chunk's worth, possibly empty), and done once the last
// chunk and the trailer section are consumed. When buf ends mid-frame it
// returns what it consumed with err == nil and done == false; call again
// with the bytes that follow buf[:n]. After the payload it goes on consuming
// framing up to the next payload byte, so a call that returns the last
// chunk's data usually also returns done. Errors are final: every further
// call returns the same error until Reset. Trailer fields are validated like
// header fields and discarded.
func (c *Chunked) Decode(buf []byte) (n int, data []byte, done bool, err error) {
	s := &c.state
	i := 0
	for i < len(buf) && s.stage != chDone && s.stage != chFailed {
		if s.stage == chData {
			if data != nil {
				break
			}
			take := len(buf) - i
			if int64(take) > s.size {
				take = int(s.size)
			}
			data = buf[i : i+take : i+take]
			i += take
			s.size -= int64(take)
			if s.size == 0 {
				s.stage = chDataCR
			}
			continue
		}
		i = c.frame(buf, i)
	}
	if s.stage == chFailed {
		return 0, nil, false, s.err
	}
	return i, data, s.stage == chDone, nil
}

// Skip is Decode for pass-through: it validates framing and consumes as much
// of buf as it can (across any number of chunks) without extracting payload,
// so buf[:n] can be forwarded unchanged. done is true once the whole body,
// trailers included, has been consumed; bytes after it are not consumed.
func (c *Chunked) Skip(buf []byte) (n int, done bool, err error) {
	s := &c.state
	i := 0
	for i < len(buf) && s.stage != chDone && s.stage != chFailed {
		if s.stage == chData {
			take := len(buf) - i
			if int64(take) > s.size {
				take = int(s.size)
			}
			i += take
			s.size -= int64(take)
			if s.size == 0 {
				s.stage = chDataCR
			}
			continue
		}
		i = c.frame(buf, i)
	}
	if s.stage == chFailed {
		return 0, false, s.err
	}
	return i, s.stage == chDone, nil
}

func (c *Chunked) fail(err error) { c.state.stage, c.state.err = chFailed, err }

// frame consumes framing bytes from buf[i:] and returns where it stopped: at
// chunk data, at the end of the body, at the end of buf, or at an error
// (stage chFailed). One byte per step, after plainSizeLine has taken the
// common case whole: framing is a few bytes per chunk.
func (c *Chunked) frame(buf []byte, i int) int {
	s := &c.state
	if s.stage == chDataCR || s.stage == chSize && s.line == 0 {
		if j, ok := c.plainSizeLine(buf, i); ok {
			if s.stage == chData {
				return j
			}
			i = j
		}
	}
	for ; i < len(buf); i++ {
		b := buf[i]
		switch s.stage {
		case chSize:
			if v := hexVal[b]; v != 0xff {
				if s.size > (1<<63-1)>>4 {
					c.fail(ErrChunkSizeOverflow)
					return i
				}
				s.size = s.size<<4 | int64(v)
				s.line++
				if s.line > MaxChunkLine {
					c.fail(ErrChunkLineTooLong)
					return i
				}
				continue
			}
			if s.line == 0 {
				c.fail(ErrInvalidChunkSize)
				return i
			}
			s.stage = chExt
			fallthrough
		case chExt:
			// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
			// The bytes after the first ';' are checked only for control
			// bytes: extensions are passed through or ignored, never
			// interpreted.
			switch {
			case b == '\r':
				if s.bws && !s.ext {
					c.fail(ErrInvalidChunkSize) // BWS belongs to an extension
					return i
				}
				s.stage = chSizeLF
			case b == '\n':
				c.fail(ErrBareLF)
				return i
			case b == ';':
				s.ext = true
			case !s.ext:
				if b != ' ' && b != '\t' {
					c.fail(ErrInvalidChunkSize)
					return i
				}
				s.bws = true
			case !valueChar[b]:
				c.fail(ErrInvalidChunkExtension)
				return i
			}
			s.line++
			if s.line > MaxChunkLine {
				c.fail(ErrChunkLineTooLong)
				return i
			}
		case chSizeLF:
			if b != '\n' {
				c.fail(ErrLoneCR)
				return i
			}
			s.line, s.ext, s.bws = 0, false, false
			if s.size == 0 {
				s.stage = chTLine
				continue
			}
			s.stage = chData
			return i + 1
		case chData:
			return i
		case chDataCR:
			if b != '\r' {
				c.fail(ErrMissingChunkCRLF)
				return i
			}
			s.stage = chDataLF
		case chDataLF:
			if b != '\n' {
				c.fail(ErrMissingChunkCRLF)
				return i
			}
			s.stage = chSize
		default:
			if c.trailerByte(b) {
				if s.stage == chDone {
					return i + 1
				}
				continue
			}
			return i
		}
	}
	return i
}

// plainSizeLine is the fast path of frame for the common framing between
// chunks: the CRLF after the data (at chDataCR), then a size line of at most
// fifteen hex digits (no overflow, far below MaxChunkLine) and CRLF, with no
// extension. If buf[i:] starts with exactly that it consumes it, moves to
// chData (or to the trailer section for the last chunk) and returns where
// it stopped; otherwise it changes nothing and frame goes byte by byte.
func (c *Chunked) plainSizeLine(buf []byte, i int) (int, bool) {
	s := &c.state
	j := i
	if s.stage == chDataCR {
		if len(buf)-j < 2 || buf[j] != '\r' || buf[j+1] != '\n' {
			return i, false
		}
		j += 2
	}
	start := j
	var n int64
	for j < len(buf) && j-start < 15 {
		v := hexVal[buf[j]]
		if v == 0xff {
			break
		}
		n = n<<4 | int64(v)
		j++
	}
	if j == start || len(buf)-j < 2 || buf[j] != '\r' || buf[j+1] != '\n' {
		return i, false
	}
	j += 2
	if n == 0 {
		s.stage = chTLine
	} else {
		s.stage, s.size = chData, n
	}
	return j, true
}

// trailerByte advances the trailer section by one byte (RFC 9112 §7.1.2);
// false means it failed.
func (c *Chunked) trailerByte(b byte) bool {
	s := &c.state
	s.trailer++
	if s.trailer > MaxTrailer {
		c.fail(ErrTrailerTooLarge)
		return false
	}
	switch s.stage {
	case chTLine:
		switch {
		case b == '\r':
			s.stage = chFinalLF
		case tokenChar[b]:
			s.stage = chTName
		case b == '\n':
			c.fail(ErrBareLF)
		case b == ' ' || b == '\t':
			c.fail(ErrObsFold)
		case b == ':':
			c.fail(ErrEmptyHeaderName)
		default:
			c.fail(ErrInvalidHeaderName)
		}
	case chTName:
		switch {
		case tokenChar[b]:
		case b == ':':
			s.stage = chTValue
		case b == ' ' || b == '\t':
			c.fail(ErrSpaceBeforeColon)
		default:
			c.fail(ErrInvalidHeaderName)
		}
	case chTValue:
		switch {
		case valueChar[b]:
		case b == '\r':
			s.stage = chTLF
		case b == '\n':
			c.fail(ErrBareLF)
		default:
			c.fail(ErrInvalidHeaderValue)
		}
	case chTLF:
		if b != '\n' {
			c.fail(ErrLoneCR)
		} else {
			s.stage = chTLine
		}
	case chFinalLF:
		if b != '\n' {
			c.fail(ErrLoneCR)
		} else {
			s.stage = chDone
		}
	}
	return s.stage != chFailed
}
