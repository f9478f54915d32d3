//go:build amd64 && !purego

package parser

// haveScanLines says scanPlainLines is implemented (in SSE2 assembly, which
// every amd64 processor has).
const haveScanLines = true

// scanPlainLines scans plain field lines (see plainLines) from p[i], the
// start of a line, while they are whole in p[:end]: for each it stores in
// spans the index of its colon, of its value's first and last-plus-one byte
// (without the SP around it) and of its CR, and moves on past the CRLF. It
// stops at the start of the first line it does not take (one that is not
// plain or has HTAB, one not whole before end, or the max-th), or, with
// done, after the empty line that ends the head. It returns how many lines
// it stored and where it stopped.
//
// It loads sixteen bytes at a time, all of them from p[:end] (near end, the
// sixteen before it), so end must be at least 16; with less it takes
// nothing. max must be at most plainBatch. scanPlainLinesGo is the same scan
// in Go, and its reference in the tests.
//
//go:noescape
func scanPlainLines(p *byte, i, end, max int, spans *[plainBatch][4]uint32) (n, next int, done bool)
