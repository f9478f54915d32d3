package config

import (
	"strings"
	"testing"
)

// Warnings: what is valid but probably not meant. A request-header add of
// a name the client can send keeps the client's field first.
func TestWarnings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
upstreams: [{name: app, endpoints: [{address: "127.0.0.1:1"}]}]
routes:
  - name: forged
    path: /a
    upstream: app
    headers:
      request:
        add: {X-Client: "${client_ip}", X-Route: "${route}"}
  - name: owned
    path: /b
    upstream: app
    request_id: true
    auth:
      jwt:
        keys: [{alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
        claims_to_headers: {sub: X-User-Id}
    headers:
      request:
        set: {X-Env: prod}
        remove: [X-Debug]
        add: {X-Env: extra, x-debug: "1", X-User-Id: also, Authorization: Bearer x, X-Request-Id: "${request_id}"}
      response:
        add: {X-Served-By: hotpath}
  - {path: /c, upstream: app, methods: [GET]}
  - {path: /c, upstream: app, methods: [POST]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Warnings() {
		got = append(got, w.Error())
	}
	want := []string{
		`t.yaml:9: routes[0].headers.request.add.X-Client: warning: a client can send X-Client too, and add keeps the client's field first (an upstream that reads one value reads the client's); use set, which replaces it, or remove it first`,
		`t.yaml:9: routes[0].headers.request.add.X-Route: warning: a client can send X-Route too`,
		`t.yaml:26: routes[3]: warning: routes[2] and routes[3] have no name and the same path "/c": they share one label in metrics and logs; give them names`,
	}
	if len(got) != len(want) {
		t.Fatalf("warnings:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n got  %s\n want %s", i, got[i], want[i])
		}
	}
	if w := Default().Warnings(); len(w) != 0 {
		t.Errorf("the embedded default warns: %v", w)
	}
}
