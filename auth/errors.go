package auth

import "errors"

// Status is the outcome of a verification.
type Status uint8

const (
	OK        Status = iota
	Missing          // no credential in the request: 401
	Invalid          // malformed, bad signature, expired, wrong issuer or audience: 401
	Forbidden        // valid, but a required claim is not met: 403
	// Unverified: a Basic credential not in the Cache; it needs a
	// Basic.Verify off the event loop (Cache.Basic).
	Unverified
)

// HTTPStatus maps s to the status the gateway answers.
func (s Status) HTTPStatus() int {
	switch s {
	case OK:
		return 200
	case Forbidden:
		return 403
	}
	return 401
}

// String is the reason label used in metrics and logs.
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Missing:
		return "missing"
	case Invalid:
		return "invalid"
	case Forbidden:
		return "forbidden"
	case Unverified:
		return "unverified"
	}
	return "unknown"
}

// Errors returned while building verifiers. They name the problem; the
// engine adds the config field and line.
var (
	ErrAlg          = errors.New("auth: unsupported alg (want HS256, RS256, ES256 or EdDSA)")
	ErrKeySource    = errors.New("auth: set exactly one of secret, secret_file, public_key_file")
	ErrKeyForAlg    = errors.New("auth: HS256 takes secret or secret_file; RS256, ES256 and EdDSA take public_key_file")
	ErrShortSecret  = errors.New("auth: HS256 secret must be at least 32 bytes")
	ErrPEM          = errors.New("auth: no PEM public key of the alg's type in the file")
	ErrCurve        = errors.New("auth: ES256 needs a P-256 key")
	ErrNoKeys       = errors.New("auth: at least one key is required")
	ErrDuplicateKid = errors.New("auth: duplicate kid")
	ErrKeyHex       = errors.New("auth: key_sha256 must be 64 hex digits")
	ErrHtpasswd     = errors.New("auth: htpasswd entries must be user:bcrypt-hash ($2a$, $2b$ or $2y$)")
)

// errCrit refuses a token whose header has a crit parameter (jwt.go).
var errCrit = errors.New("auth: unsupported critical header parameter")
