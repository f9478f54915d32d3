package accesslog

import "errors"

var (
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("accesslog: closed")
	// ErrBufferSize: Options.BufferSize is below MinBufferSize.
	ErrBufferSize = errors.New("accesslog: buffer size below minimum")
)
