package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// plain is a without what Parse derives (Redacted).
func plain(a AccessLog) AccessLog {
	a.Redacted = nil
	return a
}

func TestObservabilityDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(c *Config) bool
	}{
		{"embedded default turns admin and metrics on, access log off", "", func(c *Config) bool {
			return reflect.DeepEqual(c.Admin, Admin{Address: "127.0.0.1:9901", Pprof: true}) && c.Metrics.Enabled &&
				c.AccessLog.Path == "" && c.Log == Log{Level: "info", Format: "text"}
		}},
		{"empty file: admin off, metrics on", "{}", func(c *Config) bool {
			return reflect.DeepEqual(c.Admin, Admin{Pprof: true}) && c.Metrics.Enabled &&
				reflect.DeepEqual(plain(c.AccessLog), AccessLog{Sample: 1, BufferBytes: 64 << 10})
		}},
		{"overrides", `
admin: {address: "127.0.0.1:0", pprof: false}
metrics: {enabled: false}
access_log: {path: stdout, sample: 0.25, buffer_bytes: 131072, errors_only: true}
log: {level: debug, format: json}
`, func(c *Config) bool {
			return reflect.DeepEqual(c.Admin, Admin{Address: "127.0.0.1:0"}) && !c.Metrics.Enabled &&
				reflect.DeepEqual(plain(c.AccessLog), AccessLog{Path: "stdout", Sample: 0.25, BufferBytes: 128 << 10, ErrorsOnly: true}) &&
				c.Log == Log{Level: "debug", Format: "json"} && c.AccessLog.SampleEvery() == 4
		}},
		{"integer sample", "access_log: {sample: 1}", func(c *Config) bool { return c.AccessLog.Sample == 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c *Config
			if tc.yaml == "" {
				c = Default()
			} else {
				var err error
				if c, err = Parse("t.yaml", []byte(tc.yaml)); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.want(c) {
				t.Errorf("got admin %+v metrics %+v access_log %+v log %+v", c.Admin, c.Metrics, c.AccessLog, c.Log)
			}
			if tc.yaml != "" && string(c.Text) != tc.yaml {
				t.Errorf("Text = %q, want the source", c.Text)
			}
		})
	}
}

func TestObservabilityErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"admin address", "admin:\n  address: localhost\n", `t.yaml:2: admin.address: want host:port, got "localhost"`},
		{"sample above 1", "access_log:\n  sample: 2\n", "t.yaml:2: access_log.sample: must be in (0, 1], got 2"},
		{"sample zero", "access_log:\n  sample: 0\n", "t.yaml:2: access_log.sample: must be in (0, 1], got 0"},
		{"sample not a number", "access_log:\n  sample: half\n", `t.yaml:2: access_log.sample: want a number, got "half"`},
		{"small buffer", "access_log:\n  buffer_bytes: 4096\n", "t.yaml:2: access_log.buffer_bytes: must be at least 65536"},
		{"log level", "log:\n  level: verbose\n", `t.yaml:2: log.level: want one of debug, info, warn, error, got "verbose"`},
		{"log format", "log:\n  format: xml\n", `t.yaml:2: log.format: want one of text, json, got "xml"`},
		{"unknown field", "metrics:\n  enable: true\n", "t.yaml:2: metrics.enable: unknown field (known: enabled)"},
		{"pprof type", "admin:\n  pprof: sometimes\n", `t.yaml:2: admin.pprof: want true or false`},
		{"allowed host with port", "admin:\n  allowed_hosts: [ok.example, \"node1:9901\"]\n", `t.yaml:2: admin.allowed_hosts[1]: want a host name without port (or "*"), got "node1:9901"`},
		{"allowed host url", "admin:\n  allowed_hosts: [\"http://node1\"]\n", `admin.allowed_hosts[0]: want a host name without port`},
		{"redact_query name", "access_log:\n  redact_query: [\"a&b\"]\n", `t.yaml:2: access_log.redact_query[0]: not a query parameter name: "a&b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("got %v, want one error containing %q", err, tc.want)
			}
		})
	}
}

func TestNeedsRestart(t *testing.T) {
	a := Default()
	b, err := Parse("b.yaml", []byte("admin: {address: \"127.0.0.1:9902\"}\naccess_log: {path: stderr, sample: 0.5}\nlog: {level: debug}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := a.NeedsRestart(b)
	if want := []string{"admin", "access_log.path"}; !slices.Equal(got, want) {
		t.Errorf("NeedsRestart = %v, want %v (sample and level apply on reload)", got, want)
	}
	if got := a.NeedsRestart(Default()); len(got) != 0 {
		t.Errorf("same config: %v", got)
	}
	c, err := Parse("c.yaml", []byte("admin: {address: \"127.0.0.1:9901\", allowed_hosts: [admin.internal]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.NeedsRestart(c); !slices.Equal(got, []string{"admin"}) {
		t.Errorf("allowed_hosts changed: NeedsRestart = %v, want [admin]", got)
	}
}
