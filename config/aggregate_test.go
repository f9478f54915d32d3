package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const aggHead = `
upstreams:
  - name: users
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - name: dashboard
    path: /dashboard/:user/*rest
`

func TestAggregateParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(aggHead+`    aggregate:
      parts:
        - {name: profile, upstream: users, path: "/users/:user?x=:user&r=*rest"}
        - {name: orders, upstream: users, path: /orders, headers: [Authorization]}
        - {name: none, upstream: users, path: /n, headers: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Routes[0].Aggregate
	if a.Timeout != 5*time.Second || a.MaxBodyBytes != 1<<20 || a.Fail != AggregatePartial || a.MaxConcurrent != 1024 {
		t.Errorf("defaults %+v", a)
	}
	if got := strings.Join(a.Parts[0].Headers, ","); got != strings.Join(DefaultAggregateHeaders, ",") {
		t.Errorf("default headers %q", got)
	}
	if len(a.Parts[1].Headers) != 1 || len(a.Parts[2].Headers) != 0 {
		t.Errorf("headers %q %q", a.Parts[1].Headers, a.Parts[2].Headers)
	}
}

func TestAggregateValidation(t *testing.T) {
	part := "        - {name: p, upstream: users, path: /p}\n"
	for _, tc := range []struct {
		name string
		yaml string // appended to aggHead
		want []string
	}{
		{"no parts", "    aggregate: {}\n", []string{`routes[0].aggregate.parts: at least one part is required`}},
		{"empty parts", "    aggregate: {parts: []}\n", []string{`routes[0].aggregate.parts: at least one part is required`}},
		{"unknown upstream", "    aggregate:\n      parts:\n        - {name: p, upstream: nope, path: /p}\n",
			[]string{`t.yaml:10: routes[0].aggregate.parts[0].upstream: unknown upstream "nope"`}},
		{"missing upstream", "    aggregate:\n      parts:\n        - {name: p, path: /p}\n",
			[]string{`routes[0].aggregate.parts[0].upstream: is required`}},
		{"duplicate part", "    aggregate:\n      parts:\n" + part + part,
			[]string{`t.yaml:11: routes[0].aggregate.parts[1].name: duplicate part "p" (also parts[0])`}},
		{"bad name", "    aggregate:\n      parts:\n        - {name: \"a b\", upstream: users, path: /p}\n",
			[]string{`routes[0].aggregate.parts[0].name: want letters, digits`}},
		{"unknown param", "    aggregate:\n      parts:\n        - {name: p, upstream: users, path: \"/u/:id\"}\n",
			[]string{`routes[0].aggregate.parts[0].path: "/u/:id": unknown parameter "id" (the route's path has [user rest])`}},
		{"bare colon", "    aggregate:\n      parts:\n        - {name: p, upstream: users, path: \"/u/:\"}\n",
			[]string{`routes[0].aggregate.parts[0].path: "/u/:": ':' at byte 3 starts no parameter name`}},
		{"relative path", "    aggregate:\n      parts:\n        - {name: p, upstream: users, path: u}\n",
			[]string{`routes[0].aggregate.parts[0].path: must start with '/', got "u"`}},
		{"space in path", "    aggregate:\n      parts:\n        - {name: p, upstream: users, path: \"/a b\"}\n",
			[]string{`routes[0].aggregate.parts[0].path: "/a b": byte ' ' is not allowed`}},
		{"gateway header", "    aggregate:\n      parts:\n        - {name: p, upstream: users, path: /p, headers: [Host, \"bad name\"]}\n",
			[]string{`routes[0].aggregate.parts[0].headers[0]: Host is set by the gateway`, `routes[0].aggregate.parts[0].headers[1]: not a header name: "bad name"`}},
		{"with upstream", "    upstream: users\n    aggregate:\n      parts:\n" + part,
			[]string{`routes[0].aggregate: a route has either upstream or aggregate, not both`}},
		{"with direct", "    direct: {status: 200}\n    aggregate:\n      parts:\n" + part,
			[]string{`routes[0].aggregate: a route has either direct or aggregate, not both`}},
		{"methods", "    methods: [GET, POST]\n    aggregate:\n      parts:\n" + part,
			[]string{`routes[0].methods[1]: an aggregate route answers only GET and HEAD, got "POST"`}},
		{"cache", "    cache: {}\n    aggregate:\n      parts:\n" + part,
			[]string{`routes[0].cache: does not apply to an aggregate route`}},
		{"rewrite", "    rewrite: /x\n    aggregate:\n      parts:\n" + part,
			[]string{`routes[0].rewrite: does not apply to an aggregate route`}},
		{"limits", "    aggregate:\n      timeout: 0s\n      max_body_bytes: 0\n      fail: some\n      max_concurrent: 0\n      parts:\n" + part,
			[]string{
				`routes[0].aggregate.timeout: must be positive`,
				`routes[0].aggregate.max_body_bytes: must be positive`,
				`routes[0].aggregate.fail: want partial or all, got "some"`,
				`routes[0].aggregate.max_concurrent: must be positive`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(aggHead+tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
}
