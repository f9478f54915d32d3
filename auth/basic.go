package auth

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Basic verifies HTTP Basic credentials (RFC 7617) against htpasswd
// entries hashed with bcrypt. It is immutable and safe for concurrent use.
//
// bcrypt is slow on purpose (tens of milliseconds at cost 10), so Verify
// must not run on an event loop: the engine calls it from a small pool of
// worker goroutines and keeps the loop serving meanwhile. Cache keeps
// verified credentials, so that Verify runs once per client and
// MaxCacheAge, and recently failed ones for FailTTL, so that a client
// repeating one wrong password costs one bcrypt, not one per request.
type Basic struct {
	users map[string][]byte // user → bcrypt hash
	dummy []byte            // the costliest hash: compared for unknown users
}

// compare is bcrypt.CompareHashAndPassword; tests count its calls.
var compare = bcrypt.CompareHashAndPassword

// ParseHtpasswd reads "user:hash" lines (blank lines and # comments
// skipped). Only bcrypt hashes ($2a$, $2b$, $2y$; htpasswd -B) are
// accepted; the error names the line.
func ParseHtpasswd(data []byte) (*Basic, error) {
	b := &Basic{users: map[string][]byte{}}
	dummyCost := 0
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: %w", n+1, ErrHtpasswd)
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, ErrHtpasswd)
		}
		if _, dup := b.users[user]; dup {
			return nil, fmt.Errorf("line %d: duplicate user %q", n+1, user)
		}
		b.users[user] = []byte(hash)
		if cost > dummyCost {
			b.dummy, dummyCost = b.users[user], cost
		}
	}
	if len(b.users) == 0 {
		return nil, fmt.Errorf("%w: the file has no entries", ErrHtpasswd)
	}
	return b, nil
}

// Verify checks a decoded "user:password" pair. It takes as long for an
// unknown user as for a known one with the file's highest cost (it runs
// one bcrypt against that user's hash and ignores the outcome), so that
// the answer time does not tell which users exist. It blocks for the
// bcrypt: call it off the event loop.
func (b *Basic) Verify(userPass []byte) bool {
	i := bytes.IndexByte(userPass, ':')
	if i < 1 {
		return false
	}
	h, ok := b.users[string(userPass[:i])]
	if !ok {
		_ = compare(b.dummy, userPass[i+1:])
		return false
	}
	return compare(h, userPass[i+1:]) == nil
}
