package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Admin configures the admin HTTP listener (metrics, pprof, health,
// config and reload endpoints). It runs on its own goroutines, off the
// event loops.
type Admin struct {
	// Address is host:port; "" turns the admin listener off. Keep it on
	// loopback, or set TokenFile: without it the endpoints are
	// unauthenticated.
	Address string `yaml:"address"`
	// Pprof serves net/http/pprof under /debug/pprof/.
	Pprof bool `yaml:"pprof"`
	// TokenFile names a file holding a bearer token (at least 16 bytes,
	// surrounding whitespace trimmed). When set, every endpoint but
	// /metrics, /healthz and /readyz asks for "Authorization: Bearer
	// <token>". Read at start; a change needs a restart.
	TokenFile string `yaml:"token_file"`
	// AllowedHosts are host names (without port) the admin API answers
	// besides localhost, IP addresses and the host of Address: a request
	// whose Host is another name is refused (403), as is a cross-site
	// request from a browser, token or not (DNS rebinding, forged forms).
	// /metrics, /healthz and /readyz answer any Host. ["*"] allows any.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Metrics configures the per-loop request counters exported on the admin
// listener's /metrics.
type Metrics struct {
	// Enabled counts requests on the event loops. Off, /metrics still
	// serves the Go runtime and process collectors.
	Enabled bool `yaml:"enabled"`
}

// AccessLog configures the JSON-lines access log, written from per-loop
// buffers by one background writer; it never blocks a loop (records are
// dropped and counted when the writer is behind).
type AccessLog struct {
	// Path is "" (off), "stdout", "stderr" or a file to append to. A
	// change needs a restart.
	Path string `yaml:"path"`
	// Sample is the fraction of requests logged, in (0, 1]: 0.1 logs one
	// in ten. Responses with status >= 500 are always logged.
	Sample float64 `yaml:"sample"`
	// BufferBytes is the size of each loop's buffer (and of each spare);
	// at least 65536.
	BufferBytes Size `yaml:"buffer_bytes"`
	// ErrorsOnly logs only responses with status >= 400 and exchanges
	// that ended without a response.
	ErrorsOnly bool `yaml:"errors_only"`
	// RedactQuery names more query parameters whose values the access log
	// writes as <redacted> (case-insensitive), beyond CredentialParams and
	// the parameters routes' auth reads credentials from.
	RedactQuery []string `yaml:"redact_query"`
	// Redacted is every query parameter name the access log redacts, lower
	// case: CredentialParams, RedactQuery and each route's auth.jwt.query
	// and auth.api_key.query. Parse fills it; a reload applies it.
	Redacted []string `yaml:"-"`
}

// Log configures the process's own log (log/slog on stderr).
type Log struct {
	// Level is debug, info, warn or error; a reload applies it.
	Level string `yaml:"level"`
	// Format is text or json; a change needs a restart.
	Format string `yaml:"format"`
}

// LogLevels and LogFormats list the values log.level and log.format take.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"text", "json"}
)

func (c *Config) setObservabilityDefaults() {
	c.Admin = Admin{Pprof: true}
	c.Metrics = Metrics{Enabled: true}
	c.AccessLog = AccessLog{Sample: 1, BufferBytes: 64 << 10}
	c.Log = Log{Level: "info", Format: "text"}
}

func (c *Config) validateObservability(bad reporter) {
	if c.Admin.Address != "" {
		if err := checkHostPort(c.Admin.Address); err != nil {
			bad("admin.address", "%v", err)
		}
	}
	for i, h := range c.Admin.AllowedHosts {
		if h != "*" && !isHostName(h) {
			bad(fmt.Sprintf("admin.allowed_hosts[%d]", i), "want a host name without port (or \"*\"), got %q", h)
		}
	}
	if strings.ContainsAny(c.Admin.TokenFile, "\x00\r\n") {
		bad("admin.token_file", "not a file name: %q", c.Admin.TokenFile)
	}
	if !(c.AccessLog.Sample > 0 && c.AccessLog.Sample <= 1) {
		bad("access_log.sample", "must be in (0, 1], got %v", c.AccessLog.Sample)
	}
	if c.AccessLog.BufferBytes < 64<<10 {
		bad("access_log.buffer_bytes", "must be at least 65536 (64 KiB), got %d", c.AccessLog.BufferBytes)
	}
	if c.AccessLog.BufferBytes > 64<<20 {
		bad("access_log.buffer_bytes", "must be at most 67108864 (64 MiB), got %d", c.AccessLog.BufferBytes)
	}
	if strings.ContainsAny(c.AccessLog.Path, "\x00\r\n") {
		bad("access_log.path", "not a file name: %q", c.AccessLog.Path)
	}
	for i, name := range c.AccessLog.RedactQuery {
		if name == "" || strings.ContainsAny(name, "&=#?;% \t\r\n") || !safeFieldValue(name) {
			bad(fmt.Sprintf("access_log.redact_query[%d]", i), "not a query parameter name: %q", name)
		}
	}
	if !contains(LogLevels, c.Log.Level) {
		bad("log.level", "want one of %s, got %q", strings.Join(LogLevels, ", "), c.Log.Level)
	}
	if !contains(LogFormats, c.Log.Format) {
		bad("log.format", "want one of %s, got %q", strings.Join(LogFormats, ", "), c.Log.Format)
	}
}

// SampleEvery converts AccessLog.Sample to "log one request in N".
func (a AccessLog) SampleEvery() int {
	if a.Sample <= 0 {
		return 1
	}
	n := int(1/a.Sample + 0.5)
	return max(n, 1)
}

// NeedsRestart lists the observability settings that differ between c and
// next and that a reload cannot apply (the listener, the access-log file,
// the log format, the metrics switch), as field paths.
func (c *Config) NeedsRestart(next *Config) []string {
	var out []string
	if !reflect.DeepEqual(c.Admin, next.Admin) {
		out = append(out, "admin")
	}
	if c.Metrics != next.Metrics {
		out = append(out, "metrics.enabled")
	}
	if c.AccessLog.Path != next.AccessLog.Path {
		out = append(out, "access_log.path")
	}
	if c.AccessLog.BufferBytes != next.AccessLog.BufferBytes {
		out = append(out, "access_log.buffer_bytes")
	}
	if c.Log.Format != next.Log.Format {
		out = append(out, "log.format")
	}
	return out
}

// isHostName reports whether s can be a DNS name or an IPv4 address:
// letters, digits, '-' and '.'; no port, scheme or path. (IP addresses
// need no entry in admin.allowed_hosts.)
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}
