package config

import (
	"fmt"
	"slices"
	"strings"
)

// The kinds of the "kind" and "kind:name" values: the parts of an
// upstream's hash_key and of a route's rate_limit.key.
var (
	hashKeyKinds      = kinds{plain: []string{"client_ip", "path"}, named: []string{"header", "cookie"}}
	rateLimitKeyKinds = kinds{plain: []string{"client_ip", "route", "host", "path"}, named: []string{"header", "query"}}
)

// kinds lists the kinds a kind:name field accepts: plain ones stand alone
// ("client_ip"), named ones need a name ("header:X-Api-Key").
type kinds struct{ plain, named []string }

// want is the list of spellings for an error message.
func (k kinds) want() string {
	all := slices.Clone(k.plain)
	for _, n := range k.named {
		all = append(all, n+":<name>")
	}
	return strings.Join(all[:len(all)-1], ", ") + " or " + all[len(all)-1]
}

// parseKindName is the one parser of "kind" and "kind:name" values.
// Space around the kind and the name is ignored; a header or cookie name
// must be an RFC 9110 token, a query parameter name must not be empty.
func parseKindName(s string, k kinds) (kind, name string, err error) {
	kind, name, hasName := strings.Cut(strings.TrimSpace(s), ":")
	kind, name = strings.TrimSpace(kind), strings.TrimSpace(name)
	switch {
	case slices.Contains(k.plain, kind) && !hasName:
		return kind, "", nil
	case slices.Contains(k.named, kind) && name != "" && (kind == "query" || isToken(name)):
		return kind, name, nil
	}
	return "", "", fmt.Errorf("want %s, got %q", k.want(), s)
}

// ParseHashKey splits an upstream hash_key into its kind ("client_ip",
// "path", "header", "cookie") and name (for header and cookie).
func ParseHashKey(s string) (kind, name string, err error) { return parseKindName(s, hashKeyKinds) }

// ParseRateLimitKey splits one part of a route's rate_limit.key into its
// kind ("client_ip", "route", "host", "path", "header", "query") and name
// (for header and query).
func ParseRateLimitKey(s string) (kind, name string, err error) {
	return parseKindName(s, rateLimitKeyKinds)
}
