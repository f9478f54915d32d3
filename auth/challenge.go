package auth

// Challenge holds the WWW-Authenticate field lines a route's verifier
// answers its refusals with, rendered once at config load. The zero value
// renders no field.
type Challenge struct {
	missing, invalid, forbidden []byte // "WWW-Authenticate: ...\r\n"
}

// BearerChallenge is the JWT challenge (RFC 6750 §3): a request without a
// token gets a bare "Bearer" (§3.1: no error code when no credentials were
// sent), a bad token error="invalid_token", a token without a required
// claim error="insufficient_scope" (403).
func BearerChallenge() Challenge {
	return Challenge{
		missing:   []byte("WWW-Authenticate: Bearer\r\n"),
		invalid:   []byte("WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"),
		forbidden: []byte("WWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n"),
	}
}

// APIKeyChallenge is the api_key challenge, "ApiKey", the same for a
// missing and an unknown key.
func APIKeyChallenge() Challenge {
	line := []byte("WWW-Authenticate: ApiKey\r\n")
	return Challenge{missing: line, invalid: line, forbidden: line}
}

// BasicChallenge is the Basic challenge (RFC 7617 §2) for realm, which
// config validation keeps free of quotes, backslashes and controls.
func BasicChallenge(realm string) Challenge {
	line := []byte("WWW-Authenticate: Basic realm=\"" + realm + "\", charset=\"UTF-8\"\r\n")
	return Challenge{missing: line, invalid: line, forbidden: line}
}

// Line returns the field line for a refusal with status st; nil for OK and
// for the zero Challenge. It aliases c's storage: do not modify it.
func (c *Challenge) Line(st Status) []byte {
	switch st {
	case OK:
		return nil
	case Missing:
		return c.missing
	case Forbidden:
		return c.forbidden
	}
	return c.invalid
}
