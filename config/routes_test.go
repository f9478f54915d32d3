package config

import (
	"errors"
	"strings"
	"testing"
)

// Route names label metrics, logs and ${route}: two routes may not share
// one. Conflicting routes (the trie refuses them when the engine builds the
// table) are reported by Parse with the other problems, in one pass.
func TestRouteTableErrors(t *testing.T) {
	const ups = "upstreams: [{name: app, endpoints: [{address: \"127.0.0.1:1\"}]}]\n"
	tests := []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{name: "duplicate name", yaml: ups + `routes:
  - {name: api, path: /a, upstream: app}
  - {name: api, path: /b, upstream: app}
`, want: []string{`t.yaml:4: routes[1].name: duplicate route name "api" (also routes[0]): it labels metrics and logs`}},
		{name: "name equal to an unnamed route's path", yaml: ups + `routes:
  - {path: /a, upstream: app}
  - {name: /a, path: /b, upstream: app}
`, want: []string{`t.yaml:4: routes[1].name: route name "/a" is also the label of routes[0] (its path; routes without a name are labelled by their path)`}},
		{name: "duplicate route", yaml: ups + `routes:
  - {name: a, path: /a, upstream: app, methods: [POST, GET]}
  - {name: b, path: /a, upstream: app, methods: [GET]}
`, want: []string{`t.yaml:4: routes[1].path: trie: duplicate route: GET /a registered again (first: GET /a)`}},
		{name: "parameter names differ", yaml: ups + `routes:
  - {name: a, path: "/users/:id", upstream: app}
  - {name: b, path: "/users/:name/x", upstream: app}
`, want: []string{`t.yaml:4: routes[1].path: trie: conflicting parameter names: * /users/:name/x conflicts with * /users/:id`}},
		{name: "same path on other hosts and methods is fine", yaml: ups + `routes:
  - {name: a, path: /a, upstream: app, methods: [GET]}
  - {name: b, path: /a, upstream: app, methods: [POST]}
  - {name: c, path: /a, upstream: app, host: a.example}
`},
		{name: "aggregate routes take GET and HEAD", yaml: ups + `routes:
  - {name: a, path: /a, upstream: app, methods: [POST]}
  - name: b
    path: /a
    aggregate: {parts: [{name: p, upstream: app, path: /p}]}
  - {name: c, path: /a, upstream: app, methods: [HEAD]}
`, want: []string{`t.yaml:7: routes[2].path: trie: duplicate route: HEAD /a registered again (first: HEAD /a)`}},
		{name: "bad pattern", yaml: ups + `routes:
  - {name: a, path: "/a//b", upstream: app}
`, want: []string{`t.yaml:3: routes[0].path: trie: bad pattern`}},
		{name: "bad host", yaml: ups + `routes:
  - {name: a, path: /a, host: "a b", upstream: app}
`, want: []string{`t.yaml:3: routes[0].host: trie: bad host`}},
		// One pass: a field error and a conflict further down, together.
		{name: "conflict beside other errors", yaml: ups + `routes:
  - {name: a, path: /a, upstream: nope}
  - {name: b, path: /b, upstream: app}
  - {name: b, path: /b, upstream: app}
  - {name: c, path: nowhere, upstream: app}
`, want: []string{
			`t.yaml:3: routes[0].upstream: unknown upstream "nope"`,
			`t.yaml:5: routes[2].name: duplicate route name "b" (also routes[1])`,
			`t.yaml:5: routes[2].path: trie: duplicate route: * /b registered again (first: * /b)`,
			`t.yaml:6: routes[3].path: must start with '/', got "nowhere"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d:\n got  %s\n want %s", i, errs[i], w)
				}
			}
		})
	}
}
