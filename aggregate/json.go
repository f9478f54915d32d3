package aggregate

import (
	"bytes"
	"encoding/json"
	"strings"
)

// isJSON reports whether a Content-Type value is JSON: application/json or
// a +json structured syntax suffix (RFC 6839), case-insensitively, with or
// without parameters.
func isJSON(ct string) bool {
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	const app, suffix = "application/json", "+json"
	return strings.EqualFold(ct, app) ||
		len(ct) > len(suffix) && strings.EqualFold(ct[len(ct)-len(suffix):], suffix)
}

// validJSON reports whether a part's body is one JSON value, so that
// embedding it raw keeps the merged object valid.
func validJSON(b []byte) bool { return json.Valid(b) }

// appendString appends s as a JSON string (RFC 8259 §7) with encoding/json's
// escaping (quotes, backslash and control bytes escaped, invalid UTF-8
// replaced by U+FFFD), but '<', '>' and '&' kept as they are. It runs on
// the aggregation's worker goroutines, off the event loops.
func appendString(b, s []byte) []byte {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s)) // a string always encodes
	return append(b, bytes.TrimSuffix(out.Bytes(), []byte("\n"))...)
}
