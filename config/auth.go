package config

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Auth is a route's auth: section. Exactly one of JWT, APIKey and Basic is
// set. Requests without a valid credential are answered by the gateway
// (401, or 403 when a JWT lacks a required claim) and never reach the
// upstream. Auth runs before the route's rate limit, so a limit keyed on a
// header the auth injects (header:X-Consumer) counts per identity.
type Auth struct {
	JWT    *JWTAuth    `yaml:"jwt"`
	APIKey *APIKeyAuth `yaml:"api_key"`
	Basic  *BasicAuth  `yaml:"basic"`
	// ForwardCredentials passes the credential (the Authorization field,
	// the API key field) to the upstream; by default it is removed.
	ForwardCredentials bool `yaml:"forward_credentials"`
}

// JWTAuth verifies bearer tokens (RFC 7519; HS256, RS256, ES256, EdDSA).
type JWTAuth struct {
	// Keys are the verification keys; each pins its alg, so a token
	// signed with another alg (or "none") is refused.
	Keys []JWTKey `yaml:"keys"`
	// Issuer, when set, must equal the token's iss; Audience, when set,
	// must contain one of the token's aud values.
	Issuer   string   `yaml:"issuer"`
	Audience []string `yaml:"audience"`
	// Leeway is the clock skew allowed on exp, nbf and iat (default
	// DefaultJWTLeeway): a token is refused when its exp is more than
	// Leeway in the past, or its nbf or iat more than Leeway in the
	// future. exp is required.
	Leeway time.Duration `yaml:"leeway"`
	// Header carries the token (default Authorization, as "Bearer <token>";
	// another field carries the bare token). Query, when set, is a query
	// parameter read when the header is absent.
	Header string `yaml:"header"`
	Query  string `yaml:"query"`
	// ClaimsToHeaders copies claims into request fields for the upstream
	// ({sub: X-User-Id}); fields of those names from the client are
	// removed. RequiredClaims must match (a string claim equal to the
	// value or containing it as a space-separated word, or an array claim
	// containing it), else 403.
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	RequiredClaims  map[string]string `yaml:"required_claims"`
}

// JWTKey is one key: HS256 takes secret or secret_file (at least 32
// bytes); RS256, ES256 (P-256) and EdDSA (Ed25519) take public_key_file, a
// PEM public key.
type JWTKey struct {
	Kid           string `yaml:"kid"`
	Alg           string `yaml:"alg"`
	Secret        string `yaml:"secret"`
	SecretFile    string `yaml:"secret_file"`
	PublicKeyFile string `yaml:"public_key_file"`
}

// APIKeyAuth accepts requests carrying one of Keys.
type APIKeyAuth struct {
	// Header carries the key (default X-Api-Key); Query, when set, is a
	// query parameter read when the header is absent.
	Header string   `yaml:"header"`
	Query  string   `yaml:"query"`
	Keys   []APIKey `yaml:"keys"`
	// NameHeader, when set, sends the matched key's name to the upstream
	// in this field (a client's own field of that name is removed).
	NameHeader string `yaml:"name_header"`
}

// APIKey is one accepted key, given as its SHA-256 (key_sha256, 64 hex
// digits; `printf %s KEY | sha256sum`) or, less safely, in plain (key).
type APIKey struct {
	Name      string `yaml:"name"`
	Key       string `yaml:"key"`
	KeySHA256 string `yaml:"key_sha256"`
}

// BasicAuth checks HTTP Basic credentials against an htpasswd file of
// bcrypt entries (htpasswd -B).
type BasicAuth struct {
	Realm        string `yaml:"realm"` // default "hotpath"
	HtpasswdFile string `yaml:"htpasswd_file"`
	// UserHeader, when set, sends the authenticated user name to the
	// upstream in this field.
	UserHeader string `yaml:"user_header"`
}

// HeaderRules is a route's headers: section: edits of the request sent
// upstream and of the response sent to the client.
type HeaderRules struct {
	Request  *HeaderEdit `yaml:"request"`
	Response *HeaderEdit `yaml:"response"`
}

// HeaderEdit removes fields, then sets (replaces) and adds fields. Values
// may use ${client_ip}, ${route} and ${request_id}.
type HeaderEdit struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// HeaderVars are the variables a header value may use.
var HeaderVars = []string{"client_ip", "route", "request_id"}

// DefaultJWTLeeway is auth.jwt.leeway when not set: the clock skew
// Envoy's jwt_authn allows by default. `leeway: 0` allows none.
const DefaultJWTLeeway = 60 * time.Second

func (j *JWTAuth) setDefaults()    { j.Header, j.Leeway = "Authorization", DefaultJWTLeeway }
func (a *APIKeyAuth) setDefaults() { a.Header = "X-Api-Key" }
func (b *BasicAuth) setDefaults()  { b.Realm = "hotpath" }

// SortedKeys returns m's keys in order (header edits apply in this order).
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// managedFields are set by the gateway itself from the message framing and
// routing; header edits may not touch them.
var managedFields = []string{"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade"}

// validateAuth checks every route's auth and headers sections. Key files
// are read and parsed when the engine compiles the config (hotpath -check
// does both), with the same field paths.
func (c *Config) validateAuth(bad reporter) {
	// Every header name an auth or header rule writes or strips: a field
	// that frames the message (or names its host) stays the gateway's, or a
	// rule could separate a body from its length (request smuggling).
	header := func(path, name string) {
		switch {
		case !isToken(name):
			bad(path, "not a header name: %q", name)
		case contains(managedFields, strings.ToLower(name)):
			bad(path, "%s is managed by the gateway", name)
		}
	}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if a := r.Auth; a != nil {
			ap := p + ".auth"
			n := 0
			for _, set := range []bool{a.JWT != nil, a.APIKey != nil, a.Basic != nil} {
				if set {
					n++
				}
			}
			if n != 1 {
				bad(ap, "set exactly one of jwt, api_key, basic")
			}
			if j := a.JWT; j != nil {
				validateJWT(ap+".jwt", j, bad, header)
			}
			if k := a.APIKey; k != nil {
				validateAPIKey(ap+".api_key", k, bad, header)
			}
			if b := a.Basic; b != nil {
				validateBasic(ap+".basic", b, bad, header)
			}
		}
		if h := r.Headers; h != nil {
			validateHeaderEdits(p+".headers", h, bad, header)
		}
	}
}

// validateJWT checks a route's auth.jwt (at jp): its keys and the header
// names it writes.
func validateJWT(jp string, j *JWTAuth, bad reporter, header func(path, name string)) {
	if len(j.Keys) == 0 {
		bad(jp+".keys", "at least one key is required")
	}
	for k, key := range j.Keys {
		kp := fmt.Sprintf("%s.keys[%d]", jp, k)
		srcs := 0
		for _, s := range []string{key.Secret, key.SecretFile, key.PublicKeyFile} {
			if s != "" {
				srcs++
			}
		}
		switch key.Alg {
		case "HS256":
			if key.PublicKeyFile != "" {
				bad(kp+".public_key_file", "HS256 takes secret or secret_file")
			} else if srcs != 1 {
				bad(kp, "HS256 takes one of secret, secret_file")
			} else if key.Secret != "" && len(key.Secret) < 32 {
				bad(kp+".secret", "must be at least 32 bytes, got %d", len(key.Secret))
			}
		case "RS256", "ES256", "EdDSA":
			if key.PublicKeyFile == "" || srcs != 1 {
				bad(kp+".public_key_file", "%s takes public_key_file (a PEM public key) and no secret", key.Alg)
			}
		case "":
			bad(kp+".alg", "is required (HS256, RS256, ES256 or EdDSA)")
		default:
			bad(kp+".alg", "unsupported alg %q (want HS256, RS256, ES256 or EdDSA)", key.Alg)
		}
		for m := 0; m < k; m++ {
			if j.Keys[m].Kid == key.Kid {
				bad(kp+".kid", "duplicate kid %q (also keys[%d]); with several keys give each its own kid", key.Kid, m)
			}
		}
	}
	header(jp+".header", j.Header)
	for _, claim := range SortedKeys(j.ClaimsToHeaders) {
		header(jp+".claims_to_headers."+claim, j.ClaimsToHeaders[claim])
	}
}

// validateAPIKey checks a route's auth.api_key (at kp): its keys and the
// header names it reads and writes.
func validateAPIKey(kp string, k *APIKeyAuth, bad reporter, header func(path, name string)) {
	header(kp+".header", k.Header)
	if k.NameHeader != "" {
		header(kp+".name_header", k.NameHeader)
	}
	if len(k.Keys) == 0 {
		bad(kp+".keys", "at least one key is required")
	}
	names := map[string]int{}
	for e, key := range k.Keys {
		ep := fmt.Sprintf("%s.keys[%d]", kp, e)
		if key.Name == "" || !safeFieldValue(key.Name) {
			bad(ep+".name", "is required (printable, sent in name_header)")
		} else if f, dup := names[key.Name]; dup {
			bad(ep+".name", "duplicate name %q (also keys[%d])", key.Name, f)
		}
		names[key.Name] = e
		switch {
		case (key.Key == "") == (key.KeySHA256 == ""):
			bad(ep, "set one of key_sha256, key")
		case key.KeySHA256 != "":
			if b, err := hex.DecodeString(key.KeySHA256); err != nil || len(b) != 32 {
				bad(ep+".key_sha256", "want 64 hex digits (a SHA-256), got %d characters", len(key.KeySHA256))
			}
		}
	}
}

// validateBasic checks a route's auth.basic (at bp).
func validateBasic(bp string, b *BasicAuth, bad reporter, header func(path, name string)) {
	if b.HtpasswdFile == "" {
		bad(bp+".htpasswd_file", "is required")
	}
	if strings.ContainsAny(b.Realm, "\"\\") || !safeFieldValue(b.Realm) {
		bad(bp+".realm", "must be printable, without quotes or backslashes")
	}
	if b.UserHeader != "" {
		header(bp+".user_header", b.UserHeader)
	}
}

// validateHeaderEdits checks a route's headers (at hp): the names each
// edit touches and the templates of set and add.
func validateHeaderEdits(hp string, h *HeaderRules, bad reporter, header func(path, name string)) {
	for _, side := range []struct {
		name string
		e    *HeaderEdit
	}{{"request", h.Request}, {"response", h.Response}} {
		if side.e == nil {
			continue
		}
		sp := hp + "." + side.name
		for j, name := range side.e.Remove {
			header(fmt.Sprintf("%s.remove[%d]", sp, j), name)
		}
		for _, kind := range []struct {
			name string
			m    map[string]string
		}{{"set", side.e.Set}, {"add", side.e.Add}} {
			for _, name := range SortedKeys(kind.m) {
				fp := sp + "." + kind.name + "." + name
				header(fp, name)
				if _, err := ParseTemplate(kind.m[name]); err != nil {
					bad(fp, "%v", err)
				}
			}
		}
	}
}

// TemplatePart is a literal or a variable of a header value template.
type TemplatePart struct {
	Lit string
	Var string // one of HeaderVars, or "" for a literal
}

// ParseTemplate splits a header value into literals and ${var} references.
func ParseTemplate(s string) ([]TemplatePart, error) {
	if !safeFieldValue(s) {
		return nil, fmt.Errorf("value has control characters: %q", s)
	}
	var parts []TemplatePart
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			parts = append(parts, TemplatePart{Lit: s})
			break
		}
		if i > 0 {
			parts = append(parts, TemplatePart{Lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed ${ in %q", s)
		}
		name := s[i+2 : i+j]
		if !contains(HeaderVars, name) {
			return nil, fmt.Errorf("unknown variable ${%s} (want ${%s})", name, strings.Join(HeaderVars, "}, ${"))
		}
		parts = append(parts, TemplatePart{Var: name})
		s = s[i+j+1:]
	}
	return parts, nil
}

func safeFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
