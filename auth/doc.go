// Package auth verifies the credentials a gateway route asks for: JSON Web
// Tokens (JWT), API keys and HTTP Basic credentials from an htpasswd file.
//
// Verification is split in two so that the engine's hot path stays free of
// allocations: a verifier (JWT, APIKeys, Basic) is built once per route at
// config load and is safe for concurrent use; a Cache is owned by one event
// loop and remembers what that loop already verified. A token seen before
// costs a hash, a table probe and a byte compare; no signature check, no
// bcrypt, no allocation. Cached entries expire with the credential (a
// JWT's exp plus leeway) and after at most MaxCacheAge, and belong to the
// verifier that admitted them, so a reload (a new verifier) starts over.
//
// Basic credentials are checked with bcrypt, which takes tens of
// milliseconds: Cache.Basic answers from the table or reports Unverified,
// the caller runs Basic.Verify off the event loop and hands the outcome to
// Cache.BasicVerified, which keeps successes for MaxCacheAge and failures
// (as keyed hashes) for FailTTL.
//
//	v, err := auth.NewJWT(auth.JWTOptions{Keys: keys, Issuer: "https://idp"})
//	c := auth.NewCache(4096)                 // one per event loop
//	hdr, st := c.JWT(v, token, nowUnixNano)
//	// st == auth.OK: forward, with hdr (claims rendered as header lines)
package auth
