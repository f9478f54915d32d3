package parser

import (
	"net/http"
	"testing"
)

// TestStatusText: the phrases are RFC 9110's; where net/http still has
// RFC 7231's (413, 414, 416, 422) they differ on purpose, elsewhere they agree.
func TestStatusText(t *testing.T) {
	renamed := map[int]string{413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable", 422: "Unprocessable Content"}
	for code := 100; code < 600; code++ {
		got := StatusText(code)
		if want, ok := renamed[code]; ok {
			if got != want {
				t.Errorf("%d: %q, want %q", code, got, want)
			}
			continue
		}
		if got != "" && got != http.StatusText(code) {
			t.Errorf("%d: %q, net/http %q", code, got, http.StatusText(code))
		}
	}
	for _, code := range []int{200, 304, 400, 404, 408, 413, 414, 429, 431, 502, 503, 504} {
		if StatusText(code) == "" {
			t.Errorf("%d has no phrase", code)
		}
	}
	if StatusText(299) != "" {
		t.Error("299 has a phrase")
	}
}
