package h2

import "unsafe"

// viewString returns b's bytes as a string without copying, for x/net's
// Huffman encoder, which takes strings. It is safe because the callee only
// reads the string during the call and keeps no reference to it: the view
// never outlives b, and b is not modified while it exists.
func viewString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// viewBytes returns s's bytes as a read-only slice without copying, for
// FieldString. The slice is only read (copied into the header block) during
// the call; string memory is never written through it.
func viewBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
