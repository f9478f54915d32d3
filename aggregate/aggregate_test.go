package aggregate

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain text", `"plain text"`},
		{"q\"b\\n\nr\rt\t", `"q\"b\\n\nr\rt\t"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"é€😀", `"é€😀"`},
		{"bad\xffutf8\xc3", `"bad\ufffdutf8\ufffd"`},
		{"<a&b>", `"<a&b>"`},
	} {
		got := string(appendString(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%q: %s is not JSON", tc.in, got)
		}
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                 true,
		"Application/JSON; charset=utf-8":  true,
		" application/problem+json ":       true,
		"application/vnd.api+JSON;v=1":     true,
		"text/plain":                       false,
		"application/jsonp":                false,
		"":                                 false,
		"+json":                            false,
		"application/x-ndjson":             false,
		"text/json-seq; charset=utf-8":     false,
		"application/json-patch+json; q=1": true,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %v", ct, got)
		}
	}
}

func TestMerge(t *testing.T) {
	s := &Spec{Parts: []Part{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	outs := []outcome{
		{value: []byte(`{"x":1}`)},
		{err: errStatus, status: 503},
		{err: ErrTimeout, status: 504},
	}
	res := merge(s, outs, -1)
	want := `{"a":{"x":1},"b":{"error":"status 503","status":503},"c":{"error":"timeout","status":504}}`
	if res.Status != 200 || string(res.Body) != want || res.Failed != 2 {
		t.Errorf("partial: %d %s %d", res.Status, res.Body, res.Failed)
	}
	s.FailAll = true
	res = merge(s, outs, 2) // c failed first
	want = `{"error":"part c: timeout","part":"c","status":504}`
	if res.Status != 502 || string(res.Body) != want {
		t.Errorf("all: %d %s", res.Status, res.Body)
	}
	res = merge(s, outs, -1)
	if want = `{"error":"part b: status 503","part":"b","status":503}`; string(res.Body) != want {
		t.Errorf("all, no first: %s", res.Body)
	}
}

func TestStartRefusesWhenSaturatedOrClosed(t *testing.T) {
	c := NewClient(Options{})
	s := &Spec{MaxConcurrent: 0}
	if _, ok := c.Start(s, &Request{}, func(*Result) { t.Error("done called") }); ok || s.Saturated.Load() != 1 || s.InFlight() != 0 {
		t.Errorf("saturated: ok=%v %d %d", ok, s.Saturated.Load(), s.InFlight())
	}
	c.Close()
	s.MaxConcurrent = 1
	if _, ok := c.Start(s, &Request{}, func(*Result) { t.Error("done called") }); ok || s.InFlight() != 0 {
		t.Errorf("closed: ok=%v", ok)
	}
}
