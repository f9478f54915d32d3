package parser

import (
	"fmt"
	"strings"
)

// Benchmark and test inputs, shared by all the test files.

const apiPOST = "POST /v2/orders/batch?dry_run=false HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Accept: application/json\r\n" +
	"Content-Length: 348\r\n" +
	"User-Agent: orders-client/3.4.1 (go1.26)\r\n" +
	"X-Request-Id: 7f3c2a10-5b8e-4c1d-9e2f-0a1b2c3d4e5f\r\n" +
	"Idempotency-Key: 0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d\r\n" +
	"Accept-Encoding: gzip\r\n" +
	"\r\n"

var manyHeaders = func() string {
	var s strings.Builder
	s.WriteString("GET /static/app.js HTTP/1.1\r\nHost: cdn.example.com\r\n")
	for k := 0; k < 39; k++ {
		fmt.Fprintf(&s, "X-Custom-Header-%02d: value-%02d-abcdefghijklmnop\r\n", k, k)
	}
	s.WriteString("\r\n")
	return s.String()
}()

const chunkedResponseHead = "HTTP/1.1 200 OK\r\n" +
	"Date: Sun, 22 Nov 2026 10:00:00 GMT\r\n" +
	"Content-Type: application/json\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"Connection: keep-alive\r\n" +
	"Cache-Control: no-cache, private\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"Server: hotecho\r\n" +
	"X-Request-Id: 7f3c2a10-5b8e-4c1d-9e2f-0a1b2c3d4e5f\r\n" +
	"\r\n"

// chunkedResponseBody is a JSON document in three chunks, one with an
// extension.
var chunkedResponseBody = func() string {
	var s strings.Builder
	for k, c := range []string{`{"items":[1,2,3,4,5,6,7]`, `,"more":[8,9,10]`, "}"} {
		ext := ""
		if k == 1 {
			ext = ";ext=1"
		}
		fmt.Fprintf(&s, "%x%s\r\n%s\r\n", len(c), ext, c)
	}
	s.WriteString("0\r\n\r\n")
	return s.String()
}()

var chunkedResponse = chunkedResponseHead + chunkedResponseBody
