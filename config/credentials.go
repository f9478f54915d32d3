package config

import "strings"

// CredentialParams are the query parameter names whose values hotpath
// never shows: the access log writes them as name=<redacted>, and GET
// /config hides them in URLs. Compared case-insensitively. The access log
// adds access_log.redact_query and every auth query parameter
// (auth.jwt.query, auth.api_key.query) to them (AccessLog.Redacted).
var CredentialParams = []string{
	"access_token", "id_token", "refresh_token", "token", "jwt",
	"api_key", "apikey", "api-key", "key",
	"secret", "client_secret", "password", "passwd", "pwd",
	"auth", "authorization", "code", "session", "sessionid", "sid",
	"signature", "sig", "x-amz-signature", "x-amz-security-token", "x-amz-credential",
}

// credentialWords mark a header name as carrying a credential when one of
// them occurs in it (lower case): Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, X-Api-Key, X-Auth-Token, X-Session-Id,
// X-Client-Secret, X-Amz-Security-Token, ... A false positive only hides a
// harmless value.
var credentialWords = []string{"auth", "cookie", "token", "key", "secret", "passw", "session", "credential", "signature"}

// IsCredentialHeader reports whether a field of this name carries a
// credential: GET /config shows its configured value as <redacted>.
func IsCredentialHeader(name string) bool {
	name = strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// isCredentialParam reports whether the query parameter name is in
// CredentialParams.
func isCredentialParam(name string) bool {
	for _, p := range CredentialParams {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// redactedParams returns the query parameter names the access log redacts
// for c (AccessLog.Redacted), lower case and each once: CredentialParams,
// access_log.redact_query, and the query parameters that routes' auth
// reads a credential from.
func (c *Config) redactedParams() []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		name = strings.ToLower(name)
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, p := range CredentialParams {
		add(p)
	}
	for _, p := range c.AccessLog.RedactQuery {
		add(p)
	}
	for _, r := range c.Routes {
		if a := r.Auth; a != nil {
			if a.JWT != nil {
				add(a.JWT.Query)
			}
			if a.APIKey != nil {
				add(a.APIKey.Query)
			}
		}
	}
	return out
}
