package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// APIKey is one accepted key: its consumer name and the SHA-256 digest of
// the key (the key itself need not be kept).
type APIKey struct {
	Name   string
	Digest [32]byte
}

// ParseDigest decodes a key_sha256 value (64 hex digits).
func ParseDigest(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 64 {
		return d, ErrKeyHex
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, ErrKeyHex
	}
	return d, nil
}

// APIKeys verifies API keys. It is immutable and safe for concurrent use.
type APIKeys struct {
	keys []APIKey
}

// NewAPIKeys returns a verifier accepting keys.
func NewAPIKeys(keys []APIKey) *APIKeys {
	return &APIKeys{keys: append([]APIKey(nil), keys...)}
}

// Verify returns the index of the key v is, or -1. It hashes v and compares
// the digest with every key in constant time, with no early exit, so the
// time taken says nothing about which key (or how much of one) matched. It
// does not allocate.
func (k *APIKeys) Verify(v []byte) int {
	if len(v) == 0 {
		return -1
	}
	d := sha256.Sum256(v)
	found := -1
	for i := range k.keys {
		eq := subtle.ConstantTimeCompare(d[:], k.keys[i].Digest[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	return found
}

// Name returns the name of key i (from Verify).
func (k *APIKeys) Name(i int) string { return k.keys[i].Name }
