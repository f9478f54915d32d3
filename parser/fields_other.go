//go:build !amd64 || purego

package parser

// haveScanLines is false: plainLines scans in Go alone.
const haveScanLines = false

// scanPlainLines is not used without assembly; see fields_amd64.go.
func scanPlainLines(p *byte, i, end, max int, spans *[plainBatch][4]uint32) (n, next int, done bool) {
	return 0, i, false
}
