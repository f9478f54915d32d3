package auth

import (
	"crypto/elliptic"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTKey is one verification key. The alg is pinned to the key: a token
// signed with another alg (including "none") is refused even when its kid
// names this key.
type JWTKey struct {
	Kid string // matched against the token's kid; "" matches tokens without one
	Alg string // HS256, RS256, ES256 or EdDSA
	// Secret is the HS256 shared secret; PublicKeyPEM the PEM public key
	// (PKIX "PUBLIC KEY", or an X.509 certificate) of the other algs.
	Secret       []byte
	PublicKeyPEM []byte
}

// ClaimHeader copies a claim's value into a request header for the
// upstream.
type ClaimHeader struct {
	Claim, Header string
}

// RequiredClaim is a claim a token must carry with Value: equal to a
// string claim, one of its space-separated words (OAuth scope), or an
// element of an array claim.
type RequiredClaim struct {
	Claim, Value string
}

// JWTOptions configures NewJWT.
type JWTOptions struct {
	Keys     []JWTKey
	Issuer   string   // iss must equal it when set
	Audience []string // aud must contain one of them when set
	// Leeway is the clock skew allowed on exp, nbf and iat: a token is
	// refused when exp is more than Leeway in the past, or nbf or iat more
	// than Leeway in the future. The zero value allows none.
	Leeway   time.Duration
	Headers  []ClaimHeader
	Required []RequiredClaim
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// KeyError is a key NewJWT could not use: Keys[Index].
type KeyError struct {
	Index int
	Err   error
}

func (e *KeyError) Error() string { return fmt.Sprintf("keys[%d]: %v", e.Index, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// JWT verifies signed tokens (RFC 7519, JWS compact serialization). It is
// immutable and safe for concurrent use.
type JWT struct {
	keys     []jwtKey
	parser   *jwt.Parser
	headers  []ClaimHeader
	required []RequiredClaim
	leeway   time.Duration
	now      func() time.Time
}

type jwtKey struct {
	kid    string
	alg    string
	key    any
	method jwt.SigningMethod
}

// Algs lists the algs a key may use.
var Algs = []string{"HS256", "RS256", "ES256", "EdDSA"}

// ParseKey turns key material into the verification key for alg.
func ParseKey(alg string, secret, publicKeyPEM []byte) (any, error) {
	switch alg {
	case "HS256":
		if secret == nil || publicKeyPEM != nil {
			return nil, ErrKeyForAlg
		}
		if len(secret) < 32 {
			return nil, ErrShortSecret
		}
		return secret, nil
	case "RS256", "ES256", "EdDSA":
		if secret != nil || publicKeyPEM == nil {
			return nil, ErrKeyForAlg
		}
	default:
		return nil, ErrAlg
	}
	switch alg {
	case "RS256":
		k, err := jwt.ParseRSAPublicKeyFromPEM(publicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPEM, err)
		}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want at least 2048", ErrPEM, k.N.BitLen())
		}
		return k, nil
	case "ES256":
		k, err := jwt.ParseECPublicKeyFromPEM(publicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPEM, err)
		}
		if k.Curve != elliptic.P256() {
			return nil, ErrCurve
		}
		return k, nil
	default: // EdDSA
		k, err := jwt.ParseEdPublicKeyFromPEM(publicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPEM, err)
		}
		return k, nil
	}
}

// NewJWT builds a verifier. A bad key is reported as a *KeyError.
func NewJWT(o JWTOptions) (*JWT, error) {
	if len(o.Keys) == 0 {
		return nil, ErrNoKeys
	}
	v := &JWT{headers: o.Headers, required: o.Required, leeway: o.Leeway, now: o.Now}
	if v.now == nil {
		v.now = time.Now
	}
	algs := map[string]bool{}
	seen := map[string]bool{}
	for i, k := range o.Keys {
		key, err := ParseKey(k.Alg, k.Secret, k.PublicKeyPEM)
		if err != nil {
			return nil, &KeyError{i, err}
		}
		if seen[k.Kid] {
			return nil, &KeyError{i, ErrDuplicateKid}
		}
		seen[k.Kid] = true
		algs[k.Alg] = true
		v.keys = append(v.keys, jwtKey{kid: k.Kid, alg: k.Alg, key: key, method: jwt.GetSigningMethod(k.Alg)})
	}
	valid := make([]string, 0, len(algs))
	for _, a := range Algs {
		if algs[a] {
			valid = append(valid, a)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(valid), // never "none", never an alg no key has
		jwt.WithLeeway(o.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), // an iat later than now + leeway is refused
		jwt.WithTimeFunc(v.now),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audience...))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// keyFor picks the key for a token: by kid, else the only key without a
// kid; the token's alg must be that key's.
func (v *JWT) keyFor(t *jwt.Token) (any, error) {
	// RFC 7515 §4.1.11: a recipient that does not understand an extension
	// listed in crit must refuse the token. hotpath understands none (not
	// even RFC 7797's b64), so any crit, well formed or not, is refused.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	kid, _ := t.Header["kid"].(string)
	for i := range v.keys {
		k := &v.keys[i]
		if k.kid != kid && !(kid == "" && len(v.keys) == 1) {
			continue
		}
		if t.Method == nil || t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("auth: alg %v not allowed for key %q", t.Header["alg"], k.kid)
		}
		return k.key, nil
	}
	return nil, fmt.Errorf("auth: no key for kid %q", kid)
}

// Verify checks token and returns when the verification stops holding
// (exp plus leeway, Unix nanoseconds), the claim headers rendered as
// "Name: value\r\n" lines appended to dst, and the status.
func (v *JWT) Verify(token string, dst []byte) (until int64, hdr []byte, st Status) {
	if token == "" {
		return 0, dst, Missing
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFor); err != nil {
		return 0, dst, Invalid
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return 0, dst, Invalid
	}
	for _, r := range v.required {
		if !claimHas(claims[r.Claim], r.Value) {
			return 0, dst, Forbidden
		}
	}
	hdr = dst
	for _, h := range v.headers {
		val, ok := claimString(claims[h.Claim])
		if !ok {
			continue
		}
		if !safeValue(val) {
			return 0, dst, Invalid // would split the request head
		}
		hdr = append(hdr, h.Header...)
		hdr = append(hdr, ": "...)
		hdr = append(hdr, val...)
		hdr = append(hdr, "\r\n"...)
	}
	return exp.Add(v.leeway).UnixNano(), hdr, OK
}

func claimHas(c any, want string) bool {
	switch x := c.(type) {
	case string:
		if x == want {
			return true
		}
		for _, w := range strings.Fields(x) {
			if w == want {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if s, ok := claimString(e); ok && s == want {
				return true
			}
		}
	case bool, float64:
		s, _ := claimString(x)
		return s == want
	}
	return false
}

func claimString(c any) (string, bool) {
	switch x := c.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case []any:
		var b strings.Builder
		for i, e := range x {
			s, ok := claimString(e)
			if !ok {
				return "", false
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s)
		}
		return b.String(), true
	}
	return "", false
}

// safeValue reports whether s can be sent as a field value (RFC 9110
// §5.5: no CR, LF, NUL or other controls except HTAB).
func safeValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
