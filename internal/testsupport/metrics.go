package testsupport

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Do sends one request without a body through http.DefaultClient and
// returns the status, the header and the whole body; any error fails t.
func Do(t testing.TB, method, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// Series is one sample of the Prometheus text format.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseExposition reads the samples of a Prometheus text-format page
// (comments skipped). Label values are taken as written, without escapes.
func ParseExposition(t testing.TB, text string) []Series {
	t.Helper()
	var out []Series
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		s := Series{Labels: map[string]string{}, Value: v}
		head := line[:sp]
		if i := strings.IndexByte(head, '{'); i >= 0 {
			s.Name = head[:i]
			for _, kv := range strings.Split(strings.TrimSuffix(head[i+1:], "}"), ",") {
				k, val, _ := strings.Cut(kv, "=")
				s.Labels[k] = strings.Trim(val, `"`)
			}
		} else {
			s.Name = head
		}
		out = append(out, s)
	}
	return out
}

// Sample returns the value of the first series called name whose labels
// include the given pairs ("route", "api", ...), or -1 when none does.
func Sample(ss []Series, name string, labels ...string) float64 {
next:
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.Labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.Value
	}
	return -1
}

// Scrape fetches a /metrics URL and returns its samples; a status other
// than 200 fails t.
func Scrape(t testing.TB, url string) []Series {
	t.Helper()
	code, _, body := Do(t, "GET", url)
	if code != 200 {
		t.Fatalf("GET %s = %d", url, code)
	}
	return ParseExposition(t, body)
}
