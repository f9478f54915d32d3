// Command hotpath is the gateway: it loads a config (the embedded default
// when -config is not given) and serves it until SIGTERM or SIGINT, which
// drain it gracefully and then stop the admin listener. SIGHUP reloads the
// config file (as POST /reload on the admin listener does) and reopens the
// access-log file.
//
//	hotpath                        # embedded default: 127.0.0.1:8080 -> 127.0.0.1:9001
//	hotpath -config hotpath.yaml
//	hotpath -config etcd://10.0.0.1:2379/hotpath/config -instance edge-1   # watched; docs/fleet.md
//	hotpath -check hotpath.yaml    # validate, print every problem, exit 1 if any
//	hotpath -version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/gateway"
	"github.com/hotpath/hotpath/remoteconfig"
)

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
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, "hotpath", buildVersion())
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
	if remote != nil {
		opts.ConfigPath = ""
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
	fmt.Fprintf(stdout, "hotpath listening on %s (config %s); try: curl http://%s/\n",
		strings.Join(srv.Addrs(), ", "), cfg.Source, srv.Addr())
	if a := g.AdminAddr(); a != "" {
		fmt.Fprintf(stdout, "admin API on http://%s/ (metrics, healthz, readyz, config, reload, debug/pprof)\n", a)
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

// checkFile validates a config file (or etcd:// key): parse, validate and
// compile routes.
func checkFile(path string, stdout, stderr io.Writer) int {
	var cfg *config.Config
	var err error
	if remoteconfig.IsURL(path) {
		var remote *remoteconfig.Etcd
		if remote, err = remoteconfig.Open(path, remoteconfig.Options{}); err == nil {
			cfg, _, err = remote.Load(context.Background())
			_ = remote.Close()
		}
	} else {
		cfg, err = config.Load(path)
	}
	if err == nil {
		err = gateway.Check(cfg)
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
	fmt.Fprintln(stdout, "config OK")
	return 0
}

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return v
	}
	return "unknown"
}
