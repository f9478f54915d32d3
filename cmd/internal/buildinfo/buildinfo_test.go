package buildinfo

import (
	"runtime"
	"testing"
)

func TestLine(t *testing.T) {
	tests := []struct {
		name                  string
		version, commit, date string
		want                  string
	}{
		{name: "stamped", version: "v1.2.3", commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-12-20T10:00:00Z",
			want: "hotpath v1.2.3 (commit 0123456789abcdef0123456789abcdef01234567, built 2026-12-20T10:00:00Z, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Line("hotpath", tc.version, tc.commit, tc.date); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// Unstamped (a test binary has no VCS data): the fallbacks still make
	// a line of the same shape.
	if got := Line("hotecho", "", "", ""); !Pattern.MatchString(got) {
		t.Errorf("unstamped line %q does not match %v", got, Pattern)
	}
}
