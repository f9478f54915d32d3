package gateway

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotpath/hotpath/config"
)

// TestCheckConfigNews: with field errors the config is compiled too, and
// what compiling finds is added only where it is news: the limiter's
// refusal of a rate that a field error already explains (per failed to
// decode, so the rate came out infinite) is left out, as are problems at
// a field already reported; one in another section of the same route is
// kept.
func TestCheckConfigNews(t *testing.T) {
	_, err := CheckConfig("news.yaml", []byte(`upstreams: [{name: app, endpoints: [{address: "127.0.0.1:9001"}]}]
routes:
  - path: /a
    upstream: app
    rate_limit: {rate: 5, per: soon}
  - path: /b
    upstream: app
    rate_limit: {rate: 0, per: 1s}
  - path: /c
    upstream: app
    host_rewrite: "bad host"
    rate_limit: {rate: 5, per: 1s, key: ["cookie:sid"]}
`))
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("CheckConfig: %v", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`news.yaml:5: routes[0].rate_limit.per: want a duration`,
		`news.yaml:8: routes[1].rate_limit.rate: must be 1 or more`,
		`news.yaml:11: routes[2].host_rewrite: not a host`,
		`news.yaml:12: routes[2].rate_limit.key[0]: want client_ip`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d:\n got  %s\n want %s", i, got[i], w)
		}
	}
}
