package compression

import "errors"

// Configuration errors returned by NewConfig.
var (
	ErrGzipLevel = errors.New("compression: gzip_level must be 1..9")
	ErrZstdLevel = errors.New("compression: zstd_level must be fastest, default, better or best")
	ErrType      = errors.New("compression: bad content type pattern (want type/subtype, type/*, or type/*+suffix)")
)
