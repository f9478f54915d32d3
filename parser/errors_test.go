package parser

import (
	"errors"
	"fmt"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{ErrNeedMore, 0},
		{ErrURITooLong, 414},
		{ErrHeadTooLarge, 431},
		{ErrTooManyHeaders, 431},
		{ErrUnknownTransferCoding, 501},
		{ErrVersionNotSupported, 505},
		{ErrHTTP2Preface, 400},
		{ErrContentLengthWithTransferEncoding, 400},
		{ErrInvalidChunkSize, 400},
		{fmt.Errorf("wrapped: %w", ErrHeadTooLarge), 431},
		{fmt.Errorf("wrapped: %w", ErrNeedMore), 0},
		{errors.New("other"), 400},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
