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
	return cfg, cfg.Check()
}

// flagOf maps loadgen.Config fields to the flags that set them.
var flagOf = map[string]string{
	"Connections": "-c", "Threads": "-t", "Duration": "-d", "Warmup": "--warmup",
	"Rate": "-R", "Pipeline": "-p", "Timeout": "--timeout", "NoKeepAlive": "--no-keepalive",
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
