package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is one load run. Zero fields take the defaults noted.
type Config struct {
	// Targets are sent round robin per connection, connection g of C
	// starting at target g*len(Targets)/C (so that connections do not all
	// ask for the same target at once); all on Addr. At least one.
	Targets []Target `json:"-"`
	// Addr is the host:port every target is on (set by the target parsers).
	Addr string `json:"addr"`
	// URL describes the target for reports (the URL, or "targets: FILE").
	URL string `json:"url"`

	Connections int           `json:"connections"` // default 10
	Threads     int           `json:"threads"`     // event loops; default 1, at most Connections
	Duration    time.Duration `json:"duration"`    // recorded period; default 10 s
	Warmup      time.Duration `json:"warmup"`      // sent but not recorded, before Duration
	// Drain is how long, after Duration, responses to the requests sent in
	// it are still awaited (and recorded); nothing more is sent. 0 drops
	// the requests in flight when Duration ends, as wrk does: the slowest
	// ones, so an overloaded run looks better than it was. The run ends
	// as soon as none is in flight.
	Drain time.Duration `json:"drain,omitempty"`
	// Rate is the total requests per second in open-loop mode; 0 is the
	// closed loop.
	Rate float64 `json:"rate"`
	// Pipeline is the most requests in flight per connection; default 1.
	Pipeline int `json:"pipeline"`
	// NoKeepAlive opens a new connection for every request (the requests
	// carry "Connection: close").
	NoKeepAlive bool `json:"no_keepalive"`
	// HTTP2 speaks HTTP/2 with prior knowledge (h2c); Pipeline is then the
	// most streams in flight per connection (h2load's -m).
	HTTP2 bool `json:"h2,omitempty"`
	// Timeout fails a request that has no complete response after it (the
	// connection is closed and reopened); default 10 s.
	Timeout time.Duration `json:"timeout"`
	// TLS configures https:// targets (tls.go); nil takes the defaults. It
	// must be nil for http:// targets.
	TLS *TLS `json:"tls,omitempty"`
	// Live, when not nil, is called from Run's goroutine once when the load
	// starts (after the target was found reachable) and about once a
	// second after, with the progress so far.
	Live func(Progress) `json:"-"`
	// WindowStart, when not nil, is called once from Run's goroutine when
	// the recorded period begins (when the warm-up ends), with the period's
	// start time. It is how work tied to exactly the measured window (a
	// server-side CPU profile, say) is started. It must return quickly: the
	// loops do not wait for it, but Live and cancellation do. It is not
	// called when the run is cancelled during the warm-up; when called, it
	// returns before Run does.
	WindowStart func(time.Time) `json:"-"`
}

// Target is one request to send. Bytes is the rendered request, built once
// by Render.
type Target struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`

	addr  string
	bytes []byte
	head  bool
	https bool
}

// Bytes is the rendered request (valid after Render).
func (t *Target) Bytes() []byte { return t.bytes }

// withDefaults fills zero fields, checks the result (Check) and renders the
// targets.
func (c Config) withDefaults() (Config, error) {
	if c.Connections == 0 {
		c.Connections = 10
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if err := c.Check(); err != nil {
		return c, err
	}
	c.Threads = min(c.Threads, c.Connections)
	if c.Targets[0].https && c.TLS == nil {
		c.TLS = &TLS{}
	}
	c.Addr = c.Targets[0].addr
	for i := range c.Targets {
		c.Targets[i].render(c.NoKeepAlive)
	}
	return c, nil
}

// Check reports the first field out of range, as a *FieldError (or an
// error wrapping ErrBadConfig or ErrMixedHosts). It takes the fields as
// given: a zero Connections, Threads, Pipeline, Duration or Timeout is an
// error here. Run fills those zero fields with their defaults before it
// checks, so a Config built in code may leave them zero; hotload, whose
// flags always carry a value, checks what the user typed, so that `-c 0`
// is refused rather than silently meaning the default. It is the one place
// where a run's configuration is validated.
//
// The TLS options are checked here too: only for https:// targets, each
// one that Run can use (the CA file is read), and HTTP/1.1 over TLS (HTTP2
// is h2c only).
//
// Check also makes sure that the process may open a socket per connection:
// it raises the soft RLIMIT_NOFILE up to the hard limit when it is too low
// (the Go runtime usually has already), and refuses Connections when even
// the hard limit is too low.
func (c Config) Check() error {
	bad := func(field string, value any, want string) error {
		return &FieldError{Field: field, Value: fmt.Sprint(value), Want: want}
	}
	switch {
	case len(c.Targets) == 0:
		return fmt.Errorf("%w: no target", ErrBadConfig)
	case c.Connections < 1:
		return bad("Connections", c.Connections, "at least 1")
	case c.Threads < 1:
		return bad("Threads", c.Threads, "at least 1")
	case c.Duration <= 0:
		return bad("Duration", c.Duration, "a positive duration")
	case c.Warmup < 0:
		return bad("Warmup", c.Warmup, "0 or a positive duration")
	case c.Drain < 0:
		return bad("Drain", c.Drain, "0 or a positive duration")
	case c.Timeout <= 0:
		return bad("Timeout", c.Timeout, "a positive duration")
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return bad("Rate", c.Rate, "0 (closed loop) or a positive rate")
	case c.Pipeline < 1 || c.Pipeline > 1024:
		return bad("Pipeline", c.Pipeline, "1..1024")
	case c.NoKeepAlive && c.Pipeline > 1:
		return bad("Pipeline", c.Pipeline, "1: pipelining needs keep-alive connections")
	case c.NoKeepAlive && c.HTTP2:
		return bad("NoKeepAlive", true, "false: HTTP/2 needs keep-alive connections")
	}
	for i := range c.Targets {
		if c.Targets[i].addr != c.Targets[0].addr || c.Targets[i].https != c.Targets[0].https {
			return fmt.Errorf("%w: %s and %s", ErrMixedHosts, c.Targets[0].URL, c.Targets[i].URL)
		}
	}
	if err := c.checkTLS(); err != nil {
		return err
	}
	return checkFileLimit(c.Connections, min(c.Threads, c.Connections))
}

// FieldError is a Config field out of range. hotload names the flag that
// set Field.
type FieldError struct {
	Field string // the Config field: "Connections", "Duration", ...
	Value string // its value as given
	Want  string // what would be accepted
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s %s: want %s", ErrBadConfig, e.Field, e.Value, e.Want)
}

// Unwrap makes errors.Is(err, ErrBadConfig) hold.
func (e *FieldError) Unwrap() error { return ErrBadConfig }

// NewTarget parses rawURL (http:// or https://) and makes a target. headers are
// "Name: value" lines, as curl's and wrk's -H take them.
func NewTarget(method, rawURL string, headers []string, body string) (Target, error) {
	t := Target{Method: method, URL: rawURL, Body: body}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return t, fmt.Errorf("%w: %q", ErrBadHeader, h)
		}
		if t.Headers == nil {
			t.Headers = map[string]string{}
		}
		t.Headers[name] = strings.TrimSpace(value)
	}
	return t, t.check()
}

// check validates the method and URL and sets addr.
func (t *Target) check() error {
	if t.Method == "" {
		t.Method = "GET"
	}
	for _, c := range []byte(t.Method) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return fmt.Errorf("%w: bad method %q", ErrBadConfig, t.Method)
		}
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBadURL, t.URL, err)
	}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		t.https = true
		if port == "" {
			port = "443"
		}
	default:
		return fmt.Errorf("%w: %q: want http:// or https://host[:port]/path", ErrBadURL, t.URL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %q: no host", ErrBadURL, t.URL)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%w: %q: bad port", ErrBadURL, t.URL)
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	return nil
}

// render builds the request bytes once.
func (t *Target) render(close bool) {
	u, _ := url.Parse(t.URL) // checked by check
	path := u.RequestURI()
	var b strings.Builder
	b.WriteString(t.Method + " " + path + " HTTP/1.1\r\n")
	host := u.Host
	hasHost := false
	for name, v := range t.Headers {
		if strings.EqualFold(name, "Host") {
			hasHost = true
			host = v
		}
	}
	b.WriteString("Host: " + host + "\r\n")
	for name, v := range t.Headers {
		if strings.EqualFold(name, "Content-Length") || (hasHost && strings.EqualFold(name, "Host")) {
			continue
		}
		b.WriteString(name + ": " + v + "\r\n")
	}
	if close {
		b.WriteString("Connection: close\r\n")
	}
	if len(t.Body) > 0 || t.Method == "POST" || t.Method == "PUT" || t.Method == "PATCH" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(t.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(t.Body)
	t.bytes = []byte(b.String())
	t.head = t.Method == "HEAD"
}

// ReadTargets reads a targets file: JSON lines, one request per line, sent
// round robin:
//
//	{"method":"GET","url":"http://127.0.0.1:8080/a","headers":{"X-Key":"1"}}
//	{"method":"POST","url":"http://127.0.0.1:8080/b","body":"{\"k\":1}"}
//
// method defaults to GET; blank lines and lines starting with # are skipped.
// All URLs must be on the same host:port.
func ReadTargets(r io.Reader) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		var t Target
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadTargets, line, err)
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadTargets, line, err)
		}
		if len(out) > 0 && t.addr != out[0].addr {
			return nil, fmt.Errorf("%w: line %d: %w: %s and %s", ErrBadTargets, line, ErrMixedHosts, out[0].addr, t.addr)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTargets, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no targets", ErrBadTargets)
	}
	return out, nil
}
