package config

import "testing"

// TestKindName: the one parser of kind:name values, as hash_key and
// rate_limit.key use it.
func TestKindName(t *testing.T) {
	tests := []struct {
		name, in   string
		k          kinds
		kind, val  string
		wantErrMsg string
	}{
		{name: "plain", in: "client_ip", k: hashKeyKinds, kind: "client_ip"},
		{name: "named", in: "header:X-Api-Key", k: hashKeyKinds, kind: "header", val: "X-Api-Key"},
		{name: "cookie", in: "cookie:session", k: hashKeyKinds, kind: "cookie", val: "session"},
		{name: "spaces", in: " header: X-Api-Key ", k: rateLimitKeyKinds, kind: "header", val: "X-Api-Key"},
		{name: "query", in: "query:api_key", k: rateLimitKeyKinds, kind: "query", val: "api_key"},
		{name: "route", in: "route", k: rateLimitKeyKinds, kind: "route"},
		{name: "kind of the other field", in: "cookie:x", k: rateLimitKeyKinds,
			wantErrMsg: `want client_ip, route, host, path, header:<name> or query:<name>, got "cookie:x"`},
		{name: "named without name", in: "header:", k: hashKeyKinds,
			wantErrMsg: `want client_ip, path, header:<name> or cookie:<name>, got "header:"`},
		{name: "plain with name", in: "client_ip:x", k: rateLimitKeyKinds,
			wantErrMsg: `want client_ip, route, host, path, header:<name> or query:<name>, got "client_ip:x"`},
		{name: "header name not a token", in: "header:X Y", k: hashKeyKinds,
			wantErrMsg: `want client_ip, path, header:<name> or cookie:<name>, got "header:X Y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, val, err := parseKindName(tt.in, tt.k)
			if tt.wantErrMsg != "" {
				if err == nil || err.Error() != tt.wantErrMsg {
					t.Fatalf("err %v, want %q", err, tt.wantErrMsg)
				}
				return
			}
			if err != nil || kind != tt.kind || val != tt.val {
				t.Fatalf("got %q %q %v, want %q %q", kind, val, err, tt.kind, tt.val)
			}
		})
	}
	if _, _, err := ParseHashKey("path"); err != nil {
		t.Error(err)
	}
	if k, n, err := ParseRateLimitKey("header:X-Api-Key"); k != "header" || n != "X-Api-Key" || err != nil {
		t.Errorf("ParseRateLimitKey: %q %q %v", k, n, err)
	}
}
