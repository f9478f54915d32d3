package parser

import "errors"

// ErrNeedMore is returned by the parsers when the input ends before the
// message head (or chunk framing) is complete. It is not a failure.
var ErrNeedMore = errors.New("parser: need more data")

// Start line errors.
var (
	// ErrInvalidMethod: the method is empty, holds a byte that is not a
	// token character, or is not followed by exactly one SP.
	ErrInvalidMethod = errors.New("parser: invalid method")
	// ErrInvalidTarget: the request-target is empty or holds SP, a control
	// byte or DEL.
	ErrInvalidTarget = errors.New("parser: invalid request-target")
	// ErrInvalidVersion: the HTTP-version is not of the form HTTP/D.D
	// followed by the line end.
	ErrInvalidVersion = errors.New("parser: malformed HTTP version")
	// ErrVersionNotSupported: a well-formed version other than HTTP/1.0 and
	// HTTP/1.1.
	ErrVersionNotSupported = errors.New("parser: HTTP version not supported")
	// ErrHTTP2Preface: the connection starts with the HTTP/2 connection
	// preface ("PRI * HTTP/2.0"); the connection should be closed.
	ErrHTTP2Preface = errors.New("parser: HTTP/2 connection preface on an HTTP/1.1 connection")
	// ErrInvalidStatus: a response's status code is not three digits in
	// 100..999, or is not followed by SP or the line end.
	ErrInvalidStatus = errors.New("parser: invalid status code")
	// ErrInvalidReason: a response's reason phrase holds a control byte.
	ErrInvalidReason = errors.New("parser: invalid reason phrase")
)

// Limit errors.
var (
	// ErrURITooLong: the request line is longer than Limits.MaxRequestLine.
	ErrURITooLong = errors.New("parser: request line too long")
	// ErrHeadTooLarge: the head is larger than Limits.MaxHead.
	ErrHeadTooLarge = errors.New("parser: head too large")
	// ErrTooManyHeaders: more header fields than Limits.MaxHeaders.
	ErrTooManyHeaders = errors.New("parser: too many header fields")
)

// Header field errors.
var (
	// ErrInvalidHeaderName: a field name holds a byte that is not a token
	// character, or a field line has no colon.
	ErrInvalidHeaderName = errors.New("parser: invalid header field name")
	// ErrEmptyHeaderName: a field line starts with a colon.
	ErrEmptyHeaderName = errors.New("parser: empty header field name")
	// ErrSpaceBeforeColon: whitespace between a field name and its colon
	// (RFC 9112 §5.1: MUST reject with 400).
	ErrSpaceBeforeColon = errors.New("parser: whitespace between header field name and colon")
	// ErrObsFold: a field line starts with SP or HTAB, i.e. obsolete line
	// folding (RFC 9112 §5.2), or the first field line does.
	ErrObsFold = errors.New("parser: obsolete line folding")
	// ErrInvalidHeaderValue: a field value holds NUL, DEL or another
	// control byte other than HTAB.
	ErrInvalidHeaderValue = errors.New("parser: invalid byte in header field value")
	// ErrLoneCR: a CR not followed by LF.
	ErrLoneCR = errors.New("parser: CR not followed by LF")
	// ErrBareLF: a line ended by LF alone while Limits.AllowBareLF is off.
	ErrBareLF = errors.New("parser: bare LF line ending")
	// ErrMissingHost: an HTTP/1.1 request without a Host field (RFC 9112 §3.2).
	ErrMissingHost = errors.New("parser: missing Host header")
	// ErrDuplicateHost: a request with more than one Host field.
	ErrDuplicateHost = errors.New("parser: more than one Host header")
	// ErrInvalidHost: a Host field, or the authority of an absolute-form
	// target, that is not uri-host [":" port] (RFC 9110 §7.2, RFC 3986
	// §3.2.2): whitespace, userinfo ("@"), '/', '\' or another byte no
	// host may hold, or a port that is not digits.
	ErrInvalidHost = errors.New("parser: invalid Host")
)

// Body framing errors (RFC 9112 §6).
var (
	// ErrContentLengthWithTransferEncoding: both framing headers present.
	ErrContentLengthWithTransferEncoding = errors.New("parser: both Content-Length and Transfer-Encoding")
	// ErrDuplicateContentLength: more than one Content-Length field or a
	// comma-separated list, even of equal values.
	ErrDuplicateContentLength = errors.New("parser: more than one Content-Length")
	// ErrInvalidContentLength: a Content-Length that is not 1*DIGIT (a sign,
	// inner whitespace, an empty value or any other byte).
	ErrInvalidContentLength = errors.New("parser: invalid Content-Length")
	// ErrContentLengthOverflow: a Content-Length that does not fit an int64.
	ErrContentLengthOverflow = errors.New("parser: Content-Length overflows int64")
	// ErrChunkedNotFinal: in a request, Transfer-Encoding whose final coding
	// is not chunked (RFC 9112 §6.3 rule 4).
	ErrChunkedNotFinal = errors.New("parser: final transfer coding is not chunked")
	// ErrChunkedTwice: chunked applied more than once (RFC 9112 §6.1).
	ErrChunkedTwice = errors.New("parser: chunked transfer coding applied more than once")
	// ErrTransferEncodingHTTP10: Transfer-Encoding in an HTTP/1.0 request.
	// RFC 9112 §6.1 says to treat its framing as faulty; peers differ on
	// whether to honour or ignore it, so it is refused.
	ErrTransferEncodingHTTP10 = errors.New("parser: Transfer-Encoding in an HTTP/1.0 request")
	// ErrUnknownTransferCoding: a request transfer coding the parser does
	// not know (RFC 9112 §6.1: SHOULD answer 501).
	ErrUnknownTransferCoding = errors.New("parser: unknown transfer coding")
)

// Chunked body errors (RFC 9112 §7.1).
var (
	// ErrInvalidChunkSize: a chunk-size that is empty or not hexadecimal.
	ErrInvalidChunkSize = errors.New("parser: invalid chunk size")
	// ErrChunkSizeOverflow: a chunk-size that does not fit an int64.
	ErrChunkSizeOverflow = errors.New("parser: chunk size overflows int64")
	// ErrInvalidChunkExtension: a control byte in a chunk extension.
	ErrInvalidChunkExtension = errors.New("parser: invalid chunk extension")
	// ErrChunkLineTooLong: a chunk-size line (extensions included) longer
	// than MaxChunkLine.
	ErrChunkLineTooLong = errors.New("parser: chunk size line too long")
	// ErrMissingChunkCRLF: chunk data not followed by CRLF.
	ErrMissingChunkCRLF = errors.New("parser: missing CRLF after chunk data")
	// ErrTrailerTooLarge: the trailer section is larger than MaxTrailer.
	ErrTrailerTooLarge = errors.New("parser: trailer section too large")
)

// Status maps a parser error to the HTTP status to answer with: 400, 414,
// 431, 501 or 505. It returns 0 for nil and ErrNeedMore. Errors from
// Response.Parse map to the same codes; a gateway answers its client 502
// for them instead.
func Status(err error) int {
	switch err {
	case nil, ErrNeedMore:
		return 0
	case ErrURITooLong:
		return 414
	case ErrHeadTooLarge, ErrTooManyHeaders:
		return 431
	case ErrUnknownTransferCoding:
		return 501
	case ErrVersionNotSupported:
		return 505
	}
	switch {
	case errors.Is(err, ErrURITooLong):
		return 414
	case errors.Is(err, ErrHeadTooLarge), errors.Is(err, ErrTooManyHeaders):
		return 431
	case errors.Is(err, ErrUnknownTransferCoding):
		return 501
	case errors.Is(err, ErrVersionNotSupported):
		return 505
	case errors.Is(err, ErrNeedMore):
		return 0
	}
	return 400
}
