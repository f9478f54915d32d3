// Package buildinfo renders the -version line of hotpath's commands
// (hotpath, hotload, hotecho) from what `make build` stamps into each
// main package with -ldflags "-X main.version=... -X main.commit=... -X
// main.date=...". A value left empty (go build, go run, go install) falls
// back on the toolchain's build info: the module version ("(devel)" for a
// local build) and, when the build recorded VCS data, the revision and its
// time; else "unknown".
//
//	hotpath v0.9.0-12-g0123abc (commit 0123abcd4567ef..., built 2026-12-20T10:00:00Z, go1.26.8 linux/amd64)
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
)

// Pattern matches every line Line returns, for tests and scripts.
var Pattern = regexp.MustCompile(`^(hotpath|hotload|hotecho) \S+ \(commit (unknown|[0-9a-f]{7,40}(-dirty)?), built (unknown|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)), go\S+ \w+/\w+\)$`)

// Line returns the version line of program from the stamped values.
func Line(program, version, commit, date string) string {
	version, commit, date = Resolve(version, commit, date)
	return program + " " + version + " (commit " + commit + ", built " + date + ", " +
		runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// Resolve fills the stamped values left empty from the toolchain's build
// info, else "unknown" (the labels of hotpath_build_info).
func Resolve(version, commit, date string) (string, string, string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" {
			version = bi.Main.Version
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if commit == "" {
					commit = s.Value
				}
			case "vcs.time":
				if date == "" {
					date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit != "" && len(commit) == 40 {
			commit += "-dirty"
		}
	}
	if version == "" {
		version = "unknown"
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return version, commit, date
}
