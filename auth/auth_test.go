package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func pubPEM(t testing.TB, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signHeader signs c with HS256 and the header fields in hdr.
func signHeader(t testing.TB, key []byte, hdr map[string]any, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(extra map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"iss": "https://idp", "aud": "api", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "scope": "read write"}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func TestJWT(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := NewJWT(JWTOptions{
		Keys: []JWTKey{
			{Kid: "h", Alg: "HS256", Secret: secret},
			{Kid: "r", Alg: "RS256", PublicKeyPEM: pubPEM(t, &rsaKey.PublicKey)},
			{Kid: "e", Alg: "ES256", PublicKeyPEM: pubPEM(t, &ecKey.PublicKey)},
			{Kid: "d", Alg: "EdDSA", PublicKeyPEM: pubPEM(t, edPub)},
		},
		Issuer:   "https://idp",
		Audience: []string{"api"},
		Leeway:   30 * time.Second,
		Headers:  []ClaimHeader{{"sub", "X-User-Id"}},
		Required: []RequiredClaim{{"scope", "read"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noneKid := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
	noneKid.Header["kid"] = "h"
	noneKidS, _ := noneKid.SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, tc := range []struct {
		name  string
		token string
		want  Status
	}{
		{"hs256", sign(t, jwt.SigningMethodHS256, secret, "h", claims(nil)), OK},
		{"rs256", sign(t, jwt.SigningMethodRS256, rsaKey, "r", claims(nil)), OK},
		{"es256", sign(t, jwt.SigningMethodES256, ecKey, "e", claims(nil)), OK},
		{"eddsa", sign(t, jwt.SigningMethodEdDSA, edKey, "d", claims(nil)), OK},
		{"empty", "", Missing},
		{"garbage", "a.b.c", Invalid},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"exp": time.Now().Add(-time.Minute).Unix()})), Invalid},
		{"within leeway", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()})), OK},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"exp": nil})), Invalid},
		{"not yet", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()})), Invalid},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iss": "evil"})), Invalid},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"aud": "other"})), Invalid},
		{"audience list", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"aud": []string{"x", "api"}})), OK},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("another secret of thirty-two bytes!"), "h", claims(nil)), Invalid},
		{"unknown kid", sign(t, jwt.SigningMethodHS256, secret, "zz", claims(nil)), Invalid},
		{"alg of another key", sign(t, jwt.SigningMethodHS256, secret, "r", claims(nil)), Invalid},
		// The classic confusion: HS256 signed with the RSA public key's PEM.
		{"hs256 with rsa pem", sign(t, jwt.SigningMethodHS256, pubPEM(t, &rsaKey.PublicKey), "r", claims(nil)), Invalid},
		{"none", none, Invalid},
		{"none with kid", noneKidS, Invalid},
		{"missing scope", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"scope": "write"})), Forbidden},
		{"scope array", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"scope": []string{"read"}})), OK},
		{"header injection", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"sub": "a\r\nX-Admin: 1"})), Invalid},
		{"iat now", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iat": time.Now().Unix()})), OK},
		{"iat within leeway", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iat": time.Now().Add(10 * time.Second).Unix()})), OK},
		{"iat an hour ahead", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iat": time.Now().Add(time.Hour).Unix()})), Invalid},
		{"iat past leeway", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iat": time.Now().Add(time.Minute).Unix()})), Invalid},
		{"iat not a number", sign(t, jwt.SigningMethodHS256, secret, "h", claims(map[string]any{"iat": "soon"})), Invalid},
		// RFC 7515 §4.1.11: an extension the recipient does not understand
		// listed in crit makes the JWS invalid; hotpath understands none.
		{"crit unknown", signHeader(t, secret, map[string]any{"kid": "h", "crit": []string{"exp-policy"}, "exp-policy": "x"}, claims(nil)), Invalid},
		{"crit b64", signHeader(t, secret, map[string]any{"kid": "h", "crit": []string{"b64"}, "b64": true}, claims(nil)), Invalid},
		{"crit empty", signHeader(t, secret, map[string]any{"kid": "h", "crit": []string{}}, claims(nil)), Invalid},
		{"crit not a list", signHeader(t, secret, map[string]any{"kid": "h", "crit": "exp"}, claims(nil)), Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hdr, st := v.Verify(tc.token, nil)
			if st != tc.want {
				t.Fatalf("status %v, want %v", st, tc.want)
			}
			if st == OK && string(hdr) != "X-User-Id: alice\r\n" {
				t.Fatalf("headers %q", hdr)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		name        string
		alg         string
		secret, pem []byte
		want        error
	}{
		{"alg", "HS512", secret, nil, ErrAlg},
		{"none", "none", secret, nil, ErrAlg},
		{"short secret", "HS256", []byte("short"), nil, ErrShortSecret},
		{"pem for hs", "HS256", nil, []byte("x"), ErrKeyForAlg},
		{"secret for rs", "RS256", secret, nil, ErrKeyForAlg},
		{"bad pem", "RS256", nil, []byte("not pem"), ErrPEM},
		{"p384", "ES256", nil, pubPEM(t, &ecKey.PublicKey), ErrCurve},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseKey(tc.alg, tc.secret, tc.pem); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCacheJWT(t *testing.T) {
	now := time.Now()
	v, err := NewJWT(JWTOptions{Keys: []JWTKey{{Alg: "HS256", Secret: secret}}, Headers: []ClaimHeader{{"sub", "X-User-Id"}}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok := []byte(sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Minute).Unix()}))
	c := NewCache(16)
	for i := 0; i < 3; i++ {
		hdr, st := c.JWT(v, tok, now.UnixNano())
		if st != OK || string(hdr) != "X-User-Id: bob\r\n" {
			t.Fatalf("%d: %v %q", i, st, hdr)
		}
	}
	if c.Hits != 2 || c.Misses != 1 {
		t.Fatalf("hits %d misses %d", c.Hits, c.Misses)
	}
	// Past exp the entry is not trusted: the token is checked again, and fails.
	now = now.Add(2 * time.Minute)
	if _, st := c.JWT(v, tok, now.UnixNano()); st != Invalid {
		t.Fatalf("expired token from the cache: %v", st)
	}
	// Another verifier (a reload) does not see the first one's entries.
	now = now.Add(-2 * time.Minute)
	v2, _ := NewJWT(JWTOptions{Keys: []JWTKey{{Alg: "HS256", Secret: []byte(strings.Repeat("z", 32))}}})
	c.JWT(v, tok, now.UnixNano())
	if _, st := c.JWT(v2, tok, now.UnixNano()); st != Invalid {
		t.Fatalf("entry shared across verifiers: %v", st)
	}
	// A tampered token of the same length misses.
	bad := append([]byte(nil), tok...)
	bad[len(bad)-2] ^= 1
	if _, st := c.JWT(v, bad, now.UnixNano()); st == OK {
		t.Fatal("tampered token accepted")
	}
	c.JWT(v, tok, now.UnixNano())
	if a := testing.AllocsPerRun(100, func() { c.JWT(v, tok, now.UnixNano()) }); a != 0 {
		t.Fatalf("cache hit allocates %v", a)
	}
}

func TestAPIKeys(t *testing.T) {
	k := NewAPIKeys([]APIKey{{"a", sha256.Sum256([]byte("key-a"))}, {"b", sha256.Sum256([]byte("key-b"))}})
	if i := k.Verify([]byte("key-b")); i != 1 || k.Name(i) != "b" {
		t.Fatalf("key-b: %d", i)
	}
	for _, bad := range []string{"", "key-c", "key-b "} {
		if i := k.Verify([]byte(bad)); i != -1 {
			t.Fatalf("%q: %d", bad, i)
		}
	}
	if _, err := ParseDigest(strings.Repeat("g", 64)); err != ErrKeyHex {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { k.Verify([]byte("key-a")) }); a != 0 {
		t.Fatalf("allocates %v", a)
	}
}

// verifyBasic is what the engine does, on one goroutine: look up, verify
// an Unverified credential, record the outcome.
func verifyBasic(c *Cache, b *Basic, b64 []byte, now int64) ([]byte, Status) {
	user, cred, st := c.Basic(b, b64, now)
	if st != Unverified {
		return user, st
	}
	ok := b.Verify(cred)
	clear(cred)
	return c.BasicVerified(b, b64, ok, now)
}

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

func TestBasic(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	b, err := ParseHtpasswd([]byte("# users\nalice:" + string(h) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHtpasswd([]byte("bob:{SHA}abc\n")); !errors.Is(err, ErrHtpasswd) {
		t.Fatalf("sha entry: %v", err)
	}
	c := NewCache(16)
	now := time.Now().UnixNano()
	good := b64("alice:s3cret")
	if _, cred, st := c.Basic(b, good, now); st != Unverified || string(cred) != "alice:s3cret" {
		t.Fatalf("first lookup: %v %q, want Unverified with the decoded credential", st, cred)
	}
	for i := 0; i < 2; i++ {
		if u, st := verifyBasic(c, b, good, now); st != OK || string(u) != "alice" {
			t.Fatalf("good: %v %q", st, u)
		}
	}
	if c.Hits != 1 {
		t.Fatalf("hits %d", c.Hits)
	}
	for _, tc := range []struct {
		name, cred string
		want       Status // from Basic, before any verification
	}{
		{"wrong password", "alice:wrong", Unverified},
		{"unknown user", "bob:s3cret", Unverified},
		{"no colon", "alice", Invalid},
		{"empty user", ":s3cret", Invalid},
		{"empty", "", Missing},
	} {
		if _, _, st := c.Basic(b, b64(tc.cred), now); st != tc.want {
			t.Errorf("%s: Basic %v, want %v", tc.name, st, tc.want)
		}
		if _, st := verifyBasic(c, b, b64(tc.cred), now); st == OK {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, _, st := c.Basic(b, []byte("!!!"), now); st != Invalid {
		t.Fatal("bad base64 accepted")
	}
	if len(c.scratch) > 0 && strings.Trim(string(c.scratch), "\x00") != "" {
		t.Errorf("decoded credentials left in the scratch buffer: %q", c.scratch)
	}
}

// TestBasicUnknownUserCostsABcrypt checks the timing equalisation: an
// unknown user runs one bcrypt comparison, like a known user with a wrong
// password (counted, not timed).
func TestBasicUnknownUserCostsABcrypt(t *testing.T) {
	lo, _ := bcrypt.GenerateFromPassword([]byte("a"), bcrypt.MinCost)
	hi, _ := bcrypt.GenerateFromPassword([]byte("b"), bcrypt.MinCost+1)
	b, err := ParseHtpasswd([]byte("lo:" + string(lo) + "\nhi:" + string(hi) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	compare = func(h, p []byte) error {
		hashes = append(hashes, h)
		return bcrypt.CompareHashAndPassword(h, p)
	}
	t.Cleanup(func() { compare = bcrypt.CompareHashAndPassword })
	for _, tc := range []struct {
		cred string
		ok   bool
		hash []byte
	}{
		{"lo:a", true, lo},
		{"lo:x", false, lo},
		{"nobody:a", false, hi}, // the costliest hash in the file
		{"nobody:b", false, hi}, // b is hi's password: still refused
	} {
		hashes = hashes[:0]
		if got := b.Verify([]byte(tc.cred)); got != tc.ok {
			t.Errorf("%q: Verify %v, want %v", tc.cred, got, tc.ok)
		}
		if len(hashes) != 1 || string(hashes[0]) != string(tc.hash) {
			t.Errorf("%q: compared %d hashes, want one against %.7s", tc.cred, len(hashes), tc.hash)
		}
	}
}

// TestBasicFailures checks the table of failed credentials: a repeated
// wrong password is refused without a bcrypt until FailTTL passes, per
// verifier, and a flood of failures neither evicts verified credentials
// nor grows the table.
func TestBasicFailures(t *testing.T) {
	h, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	b, _ := ParseHtpasswd([]byte("alice:" + string(h) + "\n"))
	other, _ := ParseHtpasswd([]byte("alice:" + string(h) + "\n")) // a reload: a new verifier
	c := NewCache(1)                                               // one slot for verified credentials
	now := time.Now().UnixNano()
	good, bad := b64("alice:s3cret"), b64("alice:wrong")
	verifyBasic(c, b, good, now)
	if _, st := verifyBasic(c, b, bad, now); st != Invalid {
		t.Fatal(st)
	}
	for _, tc := range []struct {
		name  string
		owner *Basic
		at    int64
		want  Status
	}{
		{"repeat", b, now + 1, Invalid},
		{"just before FailTTL", b, now + FailTTL - 1, Invalid},
		{"other verifier", other, now, Unverified},
		{"after FailTTL", b, now + FailTTL, Unverified},
	} {
		fails := c.FailHits
		_, cred, st := c.Basic(tc.owner, bad, tc.at)
		if st != tc.want || cred != nil && tc.want != Unverified {
			t.Errorf("%s: %v, want %v", tc.name, st, tc.want)
		}
		if hit := c.FailHits == fails+1; hit != (tc.want == Invalid) {
			t.Errorf("%s: FailHits %d → %d", tc.name, fails, c.FailHits)
		}
	}
	for i := 0; i < 3*failSlots; i++ {
		c.BasicVerified(b, b64(fmt.Sprintf("alice:wrong%d", i)), false, now) // as if Verify refused it
	}
	if len(c.fails) != failSlots {
		t.Errorf("failure table has %d slots, want %d", len(c.fails), failSlots)
	}
	hits := c.Hits
	if u, st := verifyBasic(c, b, good, now); st != OK || string(u) != "alice" || c.Hits != hits+1 {
		t.Errorf("verified credential evicted by failures: %v %q", st, u)
	}
	for _, f := range c.fails {
		if f.owner != nil && f.h == xxhashOf("alice:wrong") {
			t.Error("failure table keyed by an unkeyed hash")
		}
	}
	// Hits in both tables allocate nothing.
	if _, st := verifyBasic(c, b, bad, now); st != Invalid {
		t.Fatal(st)
	}
	if a := testing.AllocsPerRun(100, func() { c.Basic(b, bad, now) }); a != 0 {
		t.Errorf("refusing a failed credential allocates %v", a)
	}
	if a := testing.AllocsPerRun(100, func() { c.Basic(b, good, now) }); a != 0 {
		t.Errorf("a verified credential allocates %v", a)
	}
}

func xxhashOf(s string) uint64 { return xxhash.Sum64String(s) }

// BenchmarkJWT compares a cached token with a full verification.
func BenchmarkJWT(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, alg := range []struct {
		name string
		key  JWTKey
		m    jwt.SigningMethod
		sk   any
	}{
		{"HS256", JWTKey{Alg: "HS256", Secret: secret}, jwt.SigningMethodHS256, secret},
		{"RS256", JWTKey{Alg: "RS256", PublicKeyPEM: pubPEM(b, &rsaKey.PublicKey)}, jwt.SigningMethodRS256, rsaKey},
		{"ES256", JWTKey{Alg: "ES256", PublicKeyPEM: pubPEM(b, &ecKey.PublicKey)}, jwt.SigningMethodES256, ecKey},
	} {
		v, err := NewJWT(JWTOptions{Keys: []JWTKey{alg.key}, Issuer: "https://idp", Audience: []string{"api"}, Headers: []ClaimHeader{{"sub", "X-User-Id"}}})
		if err != nil {
			b.Fatal(err)
		}
		tok := sign(b, alg.m, alg.sk, "", claims(nil))
		b.Run(alg.name+"/verify", func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				_, dst, _ = v.Verify(tok, dst[:0])
			}
		})
		b.Run(alg.name+"/cached", func(b *testing.B) {
			c := NewCache(1024)
			tb := []byte(tok)
			now := time.Now().UnixNano()
			c.JWT(v, tb, now)
			b.ReportAllocs()
			for b.Loop() {
				if _, st := c.JWT(v, tb, now); st != OK {
					b.Fatal(st)
				}
			}
		})
	}
}

// TestCacheKeepsGoodOnBadFlood checks that failed verifications do not
// evict verified tokens.
func TestCacheKeepsGoodOnBadFlood(t *testing.T) {
	v, _ := NewJWT(JWTOptions{Keys: []JWTKey{{Alg: "HS256", Secret: secret}}})
	c := NewCache(1) // one slot: every token maps to it
	now := time.Now().UnixNano()
	good := []byte(sign(t, jwt.SigningMethodHS256, secret, "", claims(nil)))
	c.JWT(v, good, now)
	for i := 0; i < 10; i++ {
		if _, st := c.JWT(v, []byte("bad.token."+strings.Repeat("x", i)), now); st == OK {
			t.Fatal("bad token accepted")
		}
	}
	hits := c.Hits
	if _, st := c.JWT(v, good, now); st != OK || c.Hits != hits+1 {
		t.Fatalf("good token evicted by bad ones: %v, hits %d", st, c.Hits-hits)
	}
}

func TestChallenge(t *testing.T) {
	bearer, key, basic := BearerChallenge(), APIKeyChallenge(), BasicChallenge("staff")
	for _, tc := range []struct {
		name string
		c    *Challenge
		st   Status
		want string
	}{
		// RFC 6750 §3.1: no error code when the request had no token.
		{name: "bearer missing", c: &bearer, st: Missing, want: "WWW-Authenticate: Bearer\r\n"},
		{name: "bearer invalid", c: &bearer, st: Invalid, want: "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"},
		{name: "bearer forbidden", c: &bearer, st: Forbidden, want: "WWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n"},
		{name: "bearer ok", c: &bearer, st: OK, want: ""},
		{name: "api key missing", c: &key, st: Missing, want: "WWW-Authenticate: ApiKey\r\n"},
		{name: "api key invalid", c: &key, st: Invalid, want: "WWW-Authenticate: ApiKey\r\n"},
		{name: "basic missing", c: &basic, st: Missing, want: "WWW-Authenticate: Basic realm=\"staff\", charset=\"UTF-8\"\r\n"},
		{name: "basic invalid", c: &basic, st: Invalid, want: "WWW-Authenticate: Basic realm=\"staff\", charset=\"UTF-8\"\r\n"},
		{name: "zero", c: &Challenge{}, st: Invalid, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.c.Line(tc.st)); got != tc.want {
				t.Errorf("Line(%v) = %q, want %q", tc.st, got, tc.want)
			}
		})
	}
}
