package parser

import "errors"

// ErrNeedMore is returned by the parsers when the input ends before the
// message head (or chunk framing) is complete. It is not a failure.
var ErrNeedMore = errors.New("parser: need more data")
