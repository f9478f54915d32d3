package accesslog

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testRedact is the names a gateway passes (config.AccessLog.Redacted):
// built-in credential names and a route's auth query parameter.
var testRedact = []string{"access_token", "api_key", "token", "key", "sig", "tok"}

func TestQueryRedaction(t *testing.T) {
	tests := []struct {
		name  string
		path  string // Record.Path; a "?" in it is split off when query is ""
		query string
		want  string // the logged query
	}{
		{name: "access token", query: "access_token=eyJhbGciOi.eyJzdWIi.c2ln&page=2", want: "access_token=<redacted>&page=2"},
		{name: "api key last", query: "page=2&api_key=hunter2", want: "page=2&api_key=<redacted>"},
		{name: "in the path", path: "/v1/x?api_key=hunter2&a=b", want: "api_key=<redacted>&a=b"},
		{name: "case folded", query: "API_KEY=hunter2&Access_Token=hunter2", want: "API_KEY=<redacted>&Access_Token=<redacted>"},
		{name: "percent-encoded name", query: "api%5Fkey=hunter2&%61ccess_token=hunter2", want: "api%5Fkey=<redacted>&%61ccess_token=<redacted>"},
		{name: "semicolon separator", query: "a=1;token=hunter2", want: "a=1;token=<redacted>"},
		{name: "repeated", query: "key=hunter2&key=hunter3", want: "key=<redacted>&key=<redacted>"},
		{name: "auth query parameter", query: "tok=hunter2", want: "tok=<redacted>"},
		{name: "empty value kept", query: "token=&x=1", want: "token=&x=1"},
		{name: "name without value", query: "token&x=1", want: "token&x=1"},
		{name: "value only looks like a name", query: "q=token&x=api_key", want: "q=token&x=api_key"},
		{name: "prefix of a name", query: "tokens=1&keys=2&monkey=3", want: "tokens=1&keys=2&monkey=3"},
		{name: "bad escape", query: "api%zzkey=1&api%5=2", want: "api%zzkey=1&api%5=2"},
		{name: "nothing to hide", query: "fields=name", want: "fields=name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleRecord()
			r.Path, r.Query = []byte("/v1/x"), []byte(tc.query)
			if tc.path != "" {
				r.Path, r.Query = []byte(tc.path), nil
			}
			line := appendRecord(nil, r, &clock{}, testRedact)
			if len(line) > recordBound(r) {
				t.Errorf("line is %d bytes, bound %d", len(line), recordBound(r))
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", line, err)
			}
			if got["query"] != tc.want {
				t.Errorf("query %q, want %q", got["query"], tc.want)
			}
			if got["path"] != "/v1/x" {
				t.Errorf("path %q", got["path"])
			}
			if bytes.Contains(line, []byte("hunter")) {
				t.Errorf("a credential is logged: %s", line)
			}
		})
	}
}

// The bound that lets Append check for room before writing holds with
// redaction: a redacted pair never grows past six bytes per input byte.
func TestRedactedRecordFits(t *testing.T) {
	for _, q := range []string{
		strings.Repeat("key=x&", MaxField/6+1),
		strings.Repeat("sig=x;", MaxField/6+1),
		strings.Repeat("\x01", MaxField-6) + "&key=x",
	} {
		r := sampleRecord()
		r.Query = []byte(q)
		line := appendRecord(nil, r, &clock{}, testRedact)
		if len(line) > recordBound(r) || !json.Valid(line) {
			t.Fatalf("line %d bytes, bound %d, valid %v", len(line), recordBound(r), json.Valid(line))
		}
	}
}

// Options.RedactQuery reaches the lines, and SetRedactQuery replaces it
// (a reload).
func TestLogRedactQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := newLog(t, Options{Path: path, Loops: 1, RedactQuery: []string{"Access_Token"}})
	b := l.Buffer(0)
	r := sampleRecord()
	r.Query = []byte("access_token=hunter2&mine=hunter3")
	b.Append(r)
	l.SetRedactQuery([]string{"mine"})
	b.Append(r)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != 2 || lines[0]["query"] != "access_token=<redacted>&mine=hunter3" ||
		lines[1]["query"] != "access_token=hunter2&mine=<redacted>" {
		t.Fatalf("lines: %v", lines)
	}
}

// TestAppendRedactedNoAlloc: redaction keeps Append allocation-free.
func TestAppendRedactedNoAlloc(t *testing.T) {
	l := newLog(t, Options{Output: discard{}, Loops: 1, RedactQuery: testRedact})
	t.Cleanup(func() { l.Close() })
	b := l.Buffer(0)
	r := sampleRecord()
	r.Query = []byte("page=2&access_token=eyJhbGciOi.eyJzdWIi.c2ln&API%5FKEY=k&sort=asc")
	allocs := testing.AllocsPerRun(5000, func() {
		r.Time += int64(time.Millisecond)
		b.Append(r)
	})
	if allocs != 0 {
		t.Fatalf("Append with redaction allocates %v times", allocs)
	}
}

// configRedact is as long as the gateway's default list
// (config.CredentialParams, 25 names) plus a route's auth parameter.
var configRedact = []string{
	"access_token", "id_token", "refresh_token", "token", "jwt",
	"api_key", "apikey", "api-key", "key",
	"secret", "client_secret", "password", "passwd", "pwd",
	"auth", "authorization", "code", "session", "sessionid", "sid",
	"signature", "sig", "x-amz-signature", "x-amz-security-token", "x-amz-credential", "tok",
}

// BenchmarkAppendRecordQuery: the formatting of a record with a query,
// without and with the gateway's redaction list.
func BenchmarkAppendRecordQuery(b *testing.B) {
	for _, q := range []struct{ name, query string }{
		{"one-param", "fields=name"},
		{"four-params-one-token", "page=2&access_token=eyJhbGciOi.eyJzdWIi.c2ln&sort=asc&fields=name"},
	} {
		for _, impl := range []struct {
			name   string
			redact []string
		}{{"off", nil}, {"redact", configRedact}} {
			b.Run(q.name+"/"+impl.name, func(b *testing.B) {
				r := sampleRecord()
				r.Query = []byte(q.query)
				var c clock
				buf := make([]byte, 0, 4096)
				b.ReportAllocs()
				for b.Loop() {
					r.Time += int64(time.Microsecond)
					buf = appendRecord(buf[:0], r, &c, impl.redact)
				}
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}
