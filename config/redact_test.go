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

// Credentials outside secret/key fields: header values on credential
// names, userinfo in URLs, credential query parameters, auth schemes and
// JWTs in any value. What is not a credential stays.
func TestRedactCredentialValues(t *testing.T) {
	// Redact works on the text: fields other packages may add (redis,
	// etcd) are covered by the value rules without knowing them.
	c := &Config{Text: []byte(`
upstreams:
  - name: app
    endpoints: [{address: "svc:hunter2-endpoint@127.0.0.1:9001"}]
global_limits: {redis: "redis://default:hunter2-redis@10.0.0.5:6379/0"}
discovery: {etcd: ["https://root:hunter2-etcd@10.0.0.6:2379", "http://token-hunter2-user@10.0.0.7:2379"]}
routes:
  - name: r
    path: /*p
    upstream: app
    headers:
      request:
        set:
          Authorization: "Bearer hunter2-bearer"
          Proxy-Authorization: "Basic aHVudGVyMi1iYXNpYw=="
          Cookie: "session=hunter2-cookie"
          X-Api-Key: hunter2-apikey
          X-Auth-Token: hunter2-token
          X-Env: prod
          X-Forward-As: "Bearer hunter2-scheme"
        add: {X-Upstream-Secret: hunter2-add, X-Client: "${client_ip}"}
      response:
        set: {Set-Cookie: "sid=hunter2-setcookie", Server: hotpath}
  - name: d
    path: /d
    direct:
      headers: {X-Session-Id: hunter2-direct, Content-Type: text/plain}
      body: "see https://example.com/x?access_token=hunter2-query&page=2 or eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2lnbmF0dXJlLWh1bnRlcjI"
  - name: agg
    path: /agg
    aggregate:
      parts:
        - {name: a, upstream: app, path: "/a?api_key=hunter2-aggregate&x=1", headers: [Authorization]}
        - {name: b, upstream: app, path: "/b", headers: [Cookie]}
admin: {address: "127.0.0.1:9901", token_file: /etc/hotpath/admin.token}
contact: ops@example.com
note: "Token bucket full"
`)}
	out := string(c.Redact())
	if strings.Contains(out, "hunter2") {
		t.Errorf("a credential is shown:\n%s", out)
	}
	for _, kept := range []string{
		"X-Env: prod", `X-Client: "${client_ip}"`, "Server: hotpath", "Content-Type: text/plain",
		"127.0.0.1:9001", "@10.0.0.5:6379/0", "https://" + Redacted + "@10.0.0.6:2379",
		`X-Forward-As: "Bearer ` + Redacted + `"`, "Authorization: \"" + Redacted, "access_token=" + Redacted + "&page=2",
		"api_key=" + Redacted + "&x=1", "[Authorization]", "[Cookie]",
		"/etc/hotpath/admin.token", "ops@example.com", "Token bucket full",
	} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q missing:\n%s", kept, out)
		}
	}
}

func TestIsCredentialHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "proxy-authorization": true, "Cookie": true, "Set-Cookie": true,
		"X-Api-Key": true, "X-Auth-Token": true, "X-Amz-Security-Token": true, "X-Client-Secret": true,
		"X-Session-Id": true, "X-Password": true,
		"X-Env": false, "Content-Type": false, "X-Request-Id": false, "Server": false, "Via": false,
	} {
		if got := IsCredentialHeader(name); got != want {
			t.Errorf("IsCredentialHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
