package config

import (
	"bytes"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "<redacted>"

// secretKeys are the mapping keys whose scalar values are credentials: a
// JWT key's HMAC secret (auth.jwt.keys[].secret) and an API key in clear
// (auth.api_key.keys[].key). rate_limit.key is a list, never a scalar.
var secretKeys = map[string]bool{"secret": true, "key": true}

// headerMaps are the mapping keys whose values map header names to
// values: headers.request/response.set and .add, direct.headers. In them a
// value on a credential name (IsCredentialHeader) is redacted.
var headerMaps = map[string]bool{"set": true, "add": true, "headers": true}

// authSchemes are the Authorization schemes whose parameters Redact hides
// wherever a value starts with one ("Bearer <redacted>").
var authSchemes = []string{"Bearer", "Basic", "Digest", "Token", "ApiKey", "Negotiate", "AWS4-HMAC-SHA256"}

// Redact returns the config text with every credential replaced by
// Redacted, comments and layout kept, for showing a running config (the
// admin API's GET /config). It hides:
//
//   - the values of secret and key fields (JWT HMAC secrets, API keys);
//   - header values on credential names (IsCredentialHeader) in
//     headers.*.set, headers.*.add and direct.headers;
//   - in any value: the userinfo of a URL or address
//     ("redis://<redacted>@host:6379"), the values of CredentialParams in
//     a query ("?access_token=<redacted>"), the parameters of an
//     Authorization scheme ("Bearer <redacted>") and JSON Web Tokens.
//
// Files named by the config (secret_file, htpasswd_file, token_file) are
// not read, so their paths stay. Text without a secret comes back as it
// was; text that does not parse as YAML is not shown.
func (c *Config) Redact() []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(c.Text, &doc); err != nil {
		return []byte("# the config text does not parse; not shown\n")
	}
	if !redactNode(&doc, "") {
		return c.Text
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return []byte("# the config text could not be re-encoded; not shown\n")
	}
	_ = enc.Close()
	return b.Bytes()
}

// redactNode redacts the secrets below n, whose mapping key is parent
// ("" for none), and reports whether it found any.
func redactNode(n *yaml.Node, parent string) bool {
	found := false
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.Value != "" &&
				(secretKeys[k.Value] || headerMaps[parent] && IsCredentialHeader(k.Value)) {
				setRedacted(v, Redacted)
				found = true
				continue
			}
			found = redactNode(v, k.Value) || found
		}
		return found
	case yaml.ScalarNode:
		if s, ok := redactValue(n.Value); ok {
			setRedacted(n, s)
			return true
		}
		return false
	}
	for _, c := range n.Content {
		found = redactNode(c, parent) || found
	}
	return found
}

func setRedacted(n *yaml.Node, s string) {
	n.Value, n.Style, n.Tag = s, yaml.DoubleQuotedStyle, "!!str"
}

// redactValue hides the credentials a scalar may hold whatever its field:
// an Authorization scheme's parameters, a JWT, URL userinfo and credential
// query parameters. It reports whether it changed s.
func redactValue(s string) (string, bool) {
	for _, scheme := range authSchemes {
		if len(s) > len(scheme)+1 && strings.EqualFold(s[:len(scheme)], scheme) && s[len(scheme)] == ' ' {
			// Credentials: one token68 ("Bearer abc"), or auth-params
			// ("Digest username=..."); "Token bucket full" is prose.
			if params := s[len(scheme)+1:]; !strings.ContainsAny(params, " \t") || strings.Contains(params, "=") {
				return s[:len(scheme)] + " " + Redacted, true
			}
		}
	}
	changed := false
	var b strings.Builder
	for rest := s; rest != ""; {
		// Work word by word so that a URL inside prose is found.
		i := strings.IndexAny(rest, " \t\n")
		word, sep := rest, ""
		if i >= 0 {
			word, sep, rest = rest[:i], rest[i:i+1], rest[i+1:]
		} else {
			rest = ""
		}
		if w, ok := redactWord(word); ok {
			word, changed = w, true
		}
		b.WriteString(word)
		b.WriteString(sep)
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}

// redactWord redacts one whitespace-free word: a JWT entirely, else the
// userinfo and credential query parameters of a URL or host:port.
func redactWord(w string) (string, bool) {
	if looksLikeJWT(w) {
		return Redacted, true
	}
	changed := false
	if u, ok := redactUserinfo(w); ok {
		w, changed = u, true
	}
	if q, ok := redactQuery(w); ok {
		w, changed = q, true
	}
	return w, changed
}

// redactUserinfo hides the userinfo of "scheme://user:pass@host...",
// "scheme://token@host..." and "user:pass@host:port". An address such as
// "ops@example.com" (no scheme, no password) is not userinfo.
func redactUserinfo(w string) (string, bool) {
	start := 0
	if i := strings.Index(w, "://"); i > 0 {
		start = i + 3
	}
	end := len(w)
	if i := strings.IndexAny(w[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(w[start:end], '@')
	if at < 0 {
		return w, false
	}
	at += start
	if start == 0 && !strings.Contains(w[:at], ":") {
		return w, false
	}
	return w[:start] + Redacted + w[at:], true
}

// redactQuery hides the values of CredentialParams in the query of w.
func redactQuery(w string) (string, bool) {
	q := strings.IndexByte(w, '?')
	if q < 0 {
		return w, false
	}
	end := len(w)
	if i := strings.IndexByte(w[q:], '#'); i >= 0 {
		end = q + i
	}
	var b strings.Builder
	b.WriteString(w[:q+1])
	changed := false
	pairs := strings.Split(w[q+1:end], "&")
	for i, pair := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(pair, "=")
		if hasValue && isCredentialParam(name) {
			b.WriteString(name + "=" + Redacted)
			changed = true
			continue
		}
		b.WriteString(pair)
	}
	b.WriteString(w[end:])
	return b.String(), changed
}

// looksLikeJWT reports whether w is a JWS compact serialization whose
// header is a base64url JSON object ("eyJ"): three dot-separated base64url
// parts.
func looksLikeJWT(w string) bool {
	if !strings.HasPrefix(w, "eyJ") || strings.Count(w, ".") != 2 {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
