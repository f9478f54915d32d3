package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hotpath/hotpath/loadgen"
)

// headerList is a repeatable -H.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// durationValue is a time.Duration flag whose error says what is wrong
// with the value ("5" lacks a unit), where the flag package says only
// "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return errors.New("missing a unit: write e.g. " + s + "s or " + s + "ms")
		}
		return errors.New("not a duration: write e.g. 10s, 500ms or 2m")
	}
	*d = durationValue(v)
	return nil
}

// durationVar defines a duration flag; -h shows it as "-name duration", as
// the flag package's own duration flags.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage+" (a `duration`: 500ms, 10s, 2m)")
}

// newFlagSet returns a flag set that reports errors to its caller only.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterleaved parses flags that may come after positional arguments
// (hotload URL -d 5s), as wrk accepts them.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// loadFlags are the flags that describe the load, shared by a plain run and
// a ramp.
type loadFlags struct {
	cfg                             loadgen.Config
	headers                         headerList
	method, body, bodyFile, targets string
	tls                             tlsFlags
}

// register adds the load flags to fs, with conns connections by default.
func (f *loadFlags) register(fs *flag.FlagSet, conns int) {
	fs.StringVar(&f.method, "m", "GET", "request method")
	fs.StringVar(&f.body, "b", "", "request body")
	fs.StringVar(&f.bodyFile, "body-file", "", "read the request body from FILE")
	fs.StringVar(&f.targets, "targets", "", "JSON lines of requests sent round robin: {\"method\",\"url\",\"headers\",\"body\"}")
	fs.Var(&f.headers, "H", "request header 'Name: value' (repeatable)")
	fs.IntVar(&f.cfg.Connections, "c", conns, "connections (total)")
	fs.IntVar(&f.cfg.Threads, "t", 1, "threads: event loops, each on its own OS thread")
	fs.IntVar(&f.cfg.Pipeline, "p", 1, "pipelining depth: requests in flight per connection")
	fs.BoolVar(&f.cfg.NoKeepAlive, "no-keepalive", false, "a new connection for every request")
	fs.BoolVar(&f.cfg.HTTP2, "h2", false, "HTTP/2 with prior knowledge (h2c); -p is then the streams in flight per connection")
	durationVar(fs, &f.cfg.Warmup, "warmup", 0, "send for this long first without recording")
	durationVar(fs, &f.cfg.Timeout, "timeout", 10*time.Second, "fail a request without a response after this long")
	f.tls.register(fs)
}

// config builds the run's configuration from the flags and the URL (or
// --targets), and checks it (loadgen.Config.Check). Its errors are usage
// errors; flagError names the flag of a *loadgen.FieldError.
func (f *loadFlags) config(positional []string) (loadgen.Config, error) {
	cfg := f.cfg
	switch {
	case f.targets != "" && len(positional) > 0:
		return cfg, errors.New("give a URL or --targets, not both")
	case f.targets == "" && len(positional) != 1:
		return cfg, errors.New("want exactly one URL (hotload -h for help)")
	case f.body != "" && f.bodyFile != "":
		return cfg, errors.New("give -b or --body-file, not both")
	}
	if f.targets != "" {
		r, err := os.Open(f.targets)
		if err != nil {
			return cfg, err
		}
		cfg.Targets, err = loadgen.ReadTargets(r)
		r.Close()
		if err != nil {
			return cfg, err
		}
		cfg.URL = "targets " + f.targets
	} else {
		body := f.body
		if f.bodyFile != "" {
			data, err := os.ReadFile(f.bodyFile)
			if err != nil {
				return cfg, err
			}
			body = string(data)
		}
		t, err := loadgen.NewTarget(f.method, positional[0], f.headers, body)
		if err != nil {
			return cfg, err
		}
		cfg.Targets, cfg.URL = []loadgen.Target{t}, positional[0]
	}
	cfg.TLS = f.tls.config()
	return cfg, cfg.Check()
}

// tlsFlags are the flags of https:// targets (loadgen.TLS), part of the
// load flags.
type tlsFlags struct {
	insecure, resume                  bool
	sni, caFile, alpn, version, curve string
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.StringVar(&f.sni, "sni", "", "https: the server name sent and verified (default: the URL's host)")
	fs.StringVar(&f.caFile, "cacert", "", "https: verify the server against the CAs in this PEM file (default: the system roots)")
	fs.StringVar(&f.alpn, "alpn", "", "https: ALPN protocols offered, comma-separated (default http/1.1)")
	fs.StringVar(&f.version, "tls-version", "", "https: 1.2 or 1.3 only (default: both)")
	fs.StringVar(&f.curve, "tls-curves", "", "https: key exchange groups offered, comma-separated: x25519, p256, p384, p521, x25519mlkem768 (default Go's)")
	fs.BoolVar(&f.resume, "tls-resume", false, "https: resume sessions with tickets; with --no-keepalive every handshake after the first resumes")
}

// config returns the TLS options the flags ask for, nil when none is set
// (an https:// URL then takes the defaults; loadgen.Config.Check refuses
// options for an http:// one).
func (f *tlsFlags) config() *loadgen.TLS {
	if *f == (tlsFlags{}) {
		return nil
	}
	t := &loadgen.TLS{Insecure: f.insecure, ServerName: f.sni, CAFile: f.caFile, Version: f.version, Resume: f.resume}
	if f.alpn != "" {
		t.ALPN = strings.Split(f.alpn, ",")
	}
	if f.curve != "" {
		t.Curves = strings.Split(f.curve, ",")
	}
	return t
}

// flagOf maps loadgen.Config fields to the flags that set them.
var flagOf = map[string]string{
	"Connections": "-c", "Threads": "-t", "Duration": "-d", "Warmup": "--warmup",
	"Rate": "-R", "Pipeline": "-p", "Timeout": "--timeout", "NoKeepAlive": "--no-keepalive",
	"HTTP2": "--h2", "TLS.Insecure": "--insecure", "TLS.ServerName": "--sni", "TLS.CAFile": "--cacert",
	"TLS.ALPN": "--alpn", "TLS.Version": "--tls-version", "TLS.Curves": "--tls-curves", "TLS.Resume": "--tls-resume",
}

// flagError rewrites a *loadgen.FieldError in terms of the flag that set
// the field: "-c 0: want at least 1".
func flagError(err error) error {
	var fe *loadgen.FieldError
	if errors.As(err, &fe) {
		if name, ok := flagOf[fe.Field]; ok {
			return fmt.Errorf("%s %s: want %s", name, fe.Value, fe.Want)
		}
	}
	return err
}
