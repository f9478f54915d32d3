package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuthSectionsParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
request_id: true
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /j
    upstream: app
    auth:
      jwt:
        keys: [{kid: k1, alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
        leeway: 30s
        claims_to_headers: {sub: X-User-Id}
        required_claims: {scope: read}
  - path: /k
    upstream: app
    auth: {api_key: {keys: [{name: a, key: b}]}, forward_credentials: true}
  - path: /b
    upstream: app
    auth: {basic: {htpasswd_file: /etc/htpasswd}}
    headers:
      request: {set: {X-A: "${client_ip}-${route}"}, remove: [X-B]}
      response: {add: {X-Id: "${request_id}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RequestID {
		t.Error("request_id")
	}
	j := c.Routes[0].Auth.JWT
	if j.Header != "Authorization" || j.Leeway != 30*time.Second || j.ClaimsToHeaders["sub"] != "X-User-Id" || j.Keys[0].Alg != "HS256" {
		t.Errorf("jwt %+v", j)
	}
	if k := c.Routes[1].Auth; k.APIKey.Header != "X-Api-Key" || !k.ForwardCredentials {
		t.Errorf("api_key %+v", k.APIKey)
	}
	if b := c.Routes[2].Auth.Basic; b.Realm != "hotpath" {
		t.Errorf("basic %+v", b)
	}
	parts, err := ParseTemplate(c.Routes[2].Headers.Request.Set["X-A"])
	if err != nil || len(parts) != 3 || parts[0].Var != "client_ip" || parts[1].Lit != "-" || parts[2].Var != "route" {
		t.Errorf("template %+v %v", parts, err)
	}
}

func TestAuthValidation(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /
    upstream: app
    auth:
      jwt:
        keys:
          - {alg: RS256, secret: "0123456789abcdef0123456789abcdef"}
          - {alg: HS384, secret: x}
        claims_to_headers: {sub: "X User"}
    headers:
      response:
        set: {Transfer-Encoding: x}
        add: {X-A: "${nope"}
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"t.yaml:10: routes[0].auth.jwt.keys[0].public_key_file: RS256 takes public_key_file",
		"t.yaml:11: routes[0].auth.jwt.keys[1].alg: unsupported alg \"HS384\"",
		"t.yaml:12: routes[0].auth.jwt.claims_to_headers.sub: not a header name",
		"t.yaml:15: routes[0].headers.response.set.Transfer-Encoding: Transfer-Encoding is managed by the gateway",
		"t.yaml:16: routes[0].headers.response.add.X-A: unclosed ${",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

// TestRulesCannotTouchFraming: no auth or header rule may write or strip a
// field that frames the message (or names its host): such a rule would
// separate a body from its length on the way upstream.
func TestRulesCannotTouchFraming(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
routes:
  - path: /a
    upstream: app
    auth:
      jwt:
        keys: [{alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
        claims_to_headers: {sub: Content-Length}
  - path: /b
    upstream: app
    auth:
      api_key:
        header: Transfer-Encoding
        keys: [{name: a, key: "0123456789abcdef"}]
        name_header: host
  - path: /c
    upstream: app
    headers:
      request:
        remove: [content-length]
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"routes[0].auth.jwt.claims_to_headers.sub: Content-Length is managed by the gateway",
		"routes[1].auth.api_key.header: Transfer-Encoding is managed by the gateway",
		"routes[1].auth.api_key.name_header: host is managed by the gateway",
		"routes[2].headers.request.remove[0]: content-length is managed by the gateway",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

// The jwt leeway covers exp, nbf and iat; unset it is DefaultJWTLeeway, and
// an explicit 0 allows no skew.
func TestJWTLeewayDefault(t *testing.T) {
	for _, tc := range []struct {
		name, leeway string
		want         time.Duration
	}{
		{name: "unset", leeway: "", want: DefaultJWTLeeway},
		{name: "zero", leeway: "leeway: 0", want: 0},
		{name: "set", leeway: "leeway: 5s", want: 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(`
upstreams: [{name: app, endpoints: [{address: "127.0.0.1:1"}]}]
routes:
  - path: /j
    upstream: app
    auth:
      jwt:
        keys: [{alg: HS256, secret: "0123456789abcdef0123456789abcdef"}]
        `+tc.leeway+`
`))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Routes[0].Auth.JWT.Leeway; got != tc.want {
				t.Errorf("leeway %v, want %v", got, tc.want)
			}
		})
	}
	if DefaultJWTLeeway != 60*time.Second {
		t.Errorf("DefaultJWTLeeway %v: docs/auth.md and config/example.yaml say 60s", DefaultJWTLeeway)
	}
}
