// Command hotpath is the gateway: it loads a config (the embedded default
// when -config is not given) and serves it until SIGTERM or SIGINT, which
// drain it gracefully and then stop the admin listener. Everything it says
// goes to the process log on stderr (log.format), so that stdout carries
// only the access log when access_log.path is stdout. SIGHUP reloads the
// config file (as POST /reload on the admin listener does) and reopens the
// access-log file.
//
//	hotpath                        # embedded default: 127.0.0.1:8080 -> 127.0.0.1:9001
//	hotpath -config hotpath.yaml
//	hotpath -config etcd://10.0.0.1:2379/hotpath/config -instance edge-1   # watched; docs/fleet.md
//	hotpath -check hotpath.yaml    # validate, print every problem, exit 1 if any
//	hotpath -version
//	hotpath -handover ...          # share the port with a running instance (a deliberate hand-over)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/engine"
	"github.com/hotpath/hotpath/gateway"
	"github.com/hotpath/hotpath/remoteconfig"
)

// Stamped by `make build` (-ldflags -X); see cmd/internal/buildinfo.
var version, commit, date string

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hotpath", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file, or etcd://host:port[,host:port]/key (default: the embedded config)")
	instance := fs.String("instance", "", "this instance's name in the etcd status key (default: <hostname>-<pid>)")
	check := fs.String("check", "", "validate this config file and exit")
	showVersion := fs.Bool("version", false, "print the version, commit and build date and exit")
	handover := fs.Bool("handover", false, "share the listeners' ports with a process already listening there (a deliberate hand-over; refused otherwise)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, buildinfo.Line("hotpath", version, commit, date))
		return 0
	}
	if *check != "" {
		return checkFile(*check, stdout, stderr)
	}

	var remote *remoteconfig.Etcd
	var rev int64
	var cfg *config.Config
	var err error
	if remoteconfig.IsURL(*cfgPath) {
		remote, err = remoteconfig.Open(*cfgPath, remoteconfig.Options{Instance: *instance})
		if err == nil {
			cfg, rev, err = remote.Load(context.Background())
		}
	} else {
		cfg, err = loadConfig(*cfgPath)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		if remote != nil {
			_ = remote.Close()
		}
		return 1
	}
	log, level := gateway.NewLogger(cfg.Log, stderr)
	opts := gateway.Options{ConfigPath: *cfgPath, Logger: log, Level: level, Remote: remote, Revision: rev}
	opts.Build.Version, opts.Build.Commit, opts.Build.Date = buildinfo.Resolve(version, commit, date)
	if remote != nil {
		opts.ConfigPath = ""
	}
	if *handover {
		opts.EngineOptions = append(opts.EngineOptions, engine.WithHandover())
	}
	g, err := gateway.New(cfg, opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Catch signals before anything listens, so that a signal sent as soon
	// as the gateway answers is never the default (fatal) action.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := g.Start(); err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	srv := g.Engine()
	// Through the process log (stderr, log.format), never stdout: stdout
	// may be the access log (access_log.path: stdout), JSON from line 1.
	log.Info("hotpath listening", "addrs", strings.Join(srv.Addrs(), ","), "config", cfg.Source,
		"try", "curl http://"+srv.Addr()+"/")
	if a := g.AdminAddr(); a != "" {
		log.Info("admin API", "url", "http://"+a+"/", "endpoints", "metrics healthz readyz config reload debug/pprof")
	}

	for {
		select {
		case <-g.Done():
			log.Error("event loops stopped unexpectedly")
			_ = g.Close()
			return 1
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_ = g.Reload() // logs a refusal; the old config keeps serving
				continue
			}
			drain := srv.Config().Timeouts.Drain
			log.Info("draining", "signal", sig.String(), "deadline", drain)
			ctx, cancel := context.WithTimeout(context.Background(), drain)
			err := g.Shutdown(ctx)
			cancel()
			if err != nil {
				log.Warn("drain deadline passed; remaining connections closed", "err", err)
			}
			log.Info("stopped")
			return 0
		}
	}
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// checkFile validates a config file or etcd:// key (gateway.CheckFile,
// gateway.CheckConfig): its warnings and every problem, each as
// file:line: field: message, on stderr.
func checkFile(path string, stdout, stderr io.Writer) int {
	var warnings config.Errors
	var err error
	if remoteconfig.IsURL(path) {
		var remote *remoteconfig.Etcd
		if remote, err = remoteconfig.Open(path, remoteconfig.Options{}); err == nil {
			var doc []byte
			if doc, _, err = remote.Read(context.Background()); err == nil {
				warnings, err = gateway.CheckConfig(remote.Name(), doc)
			}
			_ = remote.Close()
		}
	} else {
		warnings, err = gateway.CheckFile(path)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, w)
	}
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(errs), path)
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	if len(warnings) > 0 {
		fmt.Fprintf(stdout, "config OK, %d warning(s)\n", len(warnings))
		return 0
	}
	fmt.Fprintln(stdout, "config OK")
	return 0
}
