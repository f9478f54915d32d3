//go:build !race

package tlsloop_test

import (
	"bytes"
	"testing"
)

// TestRecordAllocs: in the data phase a response written by one side and
// read by the other costs one allocation, crypto/tls's own (readFromUntil
// allocates the reader it pulls a record's bytes with); Write, Writev,
// Flush, Feed, Peek and Discard add none.
func TestRecordAllocs(t *testing.T) {
	for _, c := range recordCases[:2] {
		p := newLoopPair(t)
		resp := bytes.Repeat([]byte("x"), c.size)
		head, body := resp[:c.size/2], resp[c.size/2:]
		iov := [][]byte{head, body}
		p.respond(t, resp)
		got := testing.AllocsPerRun(1000, func() {
			p.respond(t, resp)
		})
		if got > 1 {
			t.Errorf("%s: %v allocations per response, want at most 1", c.name, got)
		}
		got = testing.AllocsPerRun(1000, func() {
			if _, err := p.server.Writev(iov); err != nil {
				t.Fatal(err)
			}
			p.wire.Reset()
			_ = p.server.Flush(&p.wire)
		})
		if got != 0 {
			t.Errorf("%s: %v allocations per Writev, want 0", c.name, got)
		}
	}
}
