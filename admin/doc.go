// Package admin serves the gateway's admin API on its own net/http
// listener, off the event loops and on loopback by default:
//
//	GET  /metrics          Prometheus text (promhttp over Options.Registry)
//	GET  /debug/pprof/...  net/http/pprof, registered on this mux only
//	GET  /debug/pprof/rates           current mutex and block profile rates (JSON)
//	POST /debug/pprof/rates?mutex=N&block=N  set them (runtime.SetMutexProfileFraction, SetBlockProfileRate)
//	GET  /healthz          200 while the process runs
//	GET  /readyz           200 when Options.Ready says so, else 503
//	GET  /config           the running config (Options.Config)
//	POST /reload           Options.Reload: 200 "reloaded", or 400/500 with the error
//	POST /cache/purge?host=H&prefix=P  Options.Purger: 200 {"purged":N}; 501 without a cache
//
// Options.DisablePprof leaves out every /debug/pprof/ route.
//
// Every endpoint but /metrics, /healthz and /readyz refuses (403) a Host
// that is not localhost, an IP address, the host of Options.Addr or one of
// Options.AllowedHosts (DNS rebinding), and a cross-site request (an Origin
// other than its own, Sec-Fetch-Site cross-site or same-site), with or
// without Options.Token (guard.go). The state-changing endpoints answer
// only POST.
//
// Example:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), m)
//	srv, err := admin.New(admin.Options{Addr: "127.0.0.1:9901", Registry: reg, Ready: ready, Reload: reload})
//	if err == nil { err = srv.Start() }
//	defer srv.Shutdown(ctx)
package admin
