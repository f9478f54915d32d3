//go:build !race

package route

import (
	"testing"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/trie"
)

// TestTemplateAppendNoAlloc: rendering a rewrite or an aggregate target
// into a buffer with room allocates nothing.
func TestTemplateAppendNoAlloc(t *testing.T) {
	tmpl := ParseTemplate("/v2/:id/items?from=:id", config.IsTemplateNameByte)
	ps := trie.Params{N: 1, Arr: [trie.MaxParams]trie.Param{{Key: "id", Value: []byte("42")}}}
	buf := make([]byte, 0, 64)
	got := testing.AllocsPerRun(1000, func() {
		buf = tmpl.Append(buf[:0], &ps)
	})
	if got != 0 || string(buf) != "/v2/42/items?from=42" {
		t.Errorf("%v allocs, %q", got, buf)
	}
}
