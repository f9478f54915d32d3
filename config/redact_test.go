package config

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
upstreams:
  - name: app
    endpoints: [{address: 127.0.0.1:9001}]
routes:
  - name: jwt
    path: /jwt/*p
    upstream: app
    auth:
      jwt:
        keys: [{kid: k1, alg: HS256, secret: "hmac-secret-0123456789abcdef-0123"}]
  - name: keys   # a comment that stays
    path: /keys/*p
    upstream: app
    auth:
      api_key:
        keys:
          - {name: partner-a, key: clear-api-key-of-a}
          - {name: partner-b, key_sha256: 0000000000000000000000000000000000000000000000000000000000000000}
    rate_limit: {rate: 10, per: 1s, key: [client_ip]}
`))
	if err != nil {
		t.Fatal(err)
	}
	out := string(c.Redact())
	for _, secret := range []string{"hmac-secret-0123456789abcdef-0123", "clear-api-key-of-a"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q shown:\n%s", secret, out)
		}
	}
	for _, kept := range []string{Redacted, "partner-a", "key_sha256: 0000", "client_ip", "a comment that stays", "127.0.0.1:9001"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q missing:\n%s", kept, out)
		}
	}
	// The redacted text is still a valid config of the same shape.
	if _, err := Parse("redacted.yaml", []byte(strings.ReplaceAll(out, Redacted, "0123456789abcdef0123456789abcdef-x"))); err != nil {
		t.Errorf("redacted text no longer parses: %v\n%s", err, out)
	}
}

func TestRedactWithoutSecretsKeepsText(t *testing.T) {
	text := "upstreams:\n  - name: app\n    endpoints: [{address: 127.0.0.1:9001}]   # odd   spacing\nroutes:\n  - {path: /*p, upstream: app}\n"
	c, err := Parse("t.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Redact()); got != text {
		t.Errorf("changed:\n%s", got)
	}
}
