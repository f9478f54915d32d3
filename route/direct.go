package route

import (
	"sort"
	"strconv"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/parser"
)

// Direct is a pre-rendered response: Head is the status line and fields
// without the Connection field and the final CRLF; Body follows it.
type Direct struct {
	Head []byte
	Body []byte
}

// renderDirect renders a route's direct: section.
func renderDirect(d *config.Direct) *Direct {
	var h []byte
	h = append(h, "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(d.Status), 10)
	h = append(h, ' ')
	reason := parser.StatusText(d.Status)
	if reason == "" {
		reason = "Status"
	}
	h = append(h, reason...)
	h = append(h, "\r\n"...)
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h = append(h, k...)
		h = append(h, ": "...)
		h = append(h, d.Headers[k]...)
		h = append(h, "\r\n"...)
	}
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(d.Body)), 10)
	h = append(h, "\r\n"...)
	return &Direct{Head: h, Body: []byte(d.Body)}
}
