package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpath/hotpath/config"
)

// allScenarios are the scenarios, the feature set's baselines and its
// features.
func allScenarios() []Scenario {
	all := append(Scenarios(), featureBaselines()...)
	for _, f := range FeatureSet() {
		all = append(all, f.Scenario)
	}
	return all
}

// renderAll renders every contender's config for every scenario and
// feature.
func renderAll(t *testing.T, each func(s Scenario, c *Contender, conf, dir string)) {
	t.Helper()
	h := &harness{scratch: t.TempDir()}
	for _, s := range allScenarios() {
		st, err := h.tlsSite(s)
		if err != nil {
			t.Fatal(err)
		}
		var routes []string
		for i := range s.Routes {
			routes = append(routes, routePath(i))
		}
		for _, name := range ContenderNames {
			c, err := contenderFor(name)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), name)
			conf, err := c.render(dir, newSite("127.0.0.1:18081", "127.0.0.1:19001", s.Features, routes, st))
			if err != nil {
				t.Fatalf("%s/%s: %v", s.Name, name, err)
			}
			each(s, c, conf, dir)
		}
	}
}

// TestHotpathConfigs loads every generated hotpath YAML with the config
// package and checks that it asks for the scenario's features.
func TestHotpathConfigs(t *testing.T) {
	renderAll(t, func(s Scenario, c *Contender, conf, _ string) {
		if c.Name != "hotpath" {
			return
		}
		data, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		// Every feature is on main now: every config must load as it is.
		cfg, err := config.Parse(conf, data)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if want := max(s.Routes, 1); len(cfg.Routes) != want {
			t.Errorf("%s: %d routes, want %d", s.Name, len(cfg.Routes), want)
		}
		if cfg.Workers != 1 {
			t.Errorf("%s: workers %d, want 1", s.Name, cfg.Workers)
		}
		r := cfg.Routes[0]
		if (r.Cache != nil) != s.Cache || (r.RateLimit != nil) != (s.RateLimit != nil) || (r.Compression != nil) != (s.Gzip != nil) {
			t.Errorf("%s: route policies %+v, want features %s", s.Name, r, s.Features.names())
		}
		if got := cfg.Upstreams[0].Pool.Pipeline; got != s.UpstreamPipeline {
			t.Errorf("%s: pool.pipeline %d, want %d", s.Name, got, s.UpstreamPipeline)
		}
		auth := r.Auth != nil
		if (cfg.AccessLog.Path != "") != s.AccessLog || cfg.Metrics.Enabled == s.MetricsOff || r.RequestID != s.RequestID ||
			(r.Headers != nil) != s.HeaderRule || (auth && r.Auth.APIKey != nil) != s.APIKey || (auth && r.Auth.JWT != nil) != s.JWT ||
			cfg.Admin.Address != "" {
			t.Errorf("%s: access log %q, metrics %v, request_id %v, headers %v, auth %+v, admin %q; want features %s",
				s.Name, cfg.AccessLog.Path, cfg.Metrics.Enabled, r.RequestID, r.Headers, r.Auth, cfg.Admin.Address, s.Features.names())
		}
		if (cfg.Listeners[0].TLS != nil) != s.TLS {
			t.Errorf("%s: listener tls %+v", s.Name, cfg.Listeners[0].TLS)
		}
	})
}

// TestPeerConfigs runs nginx's and HAProxy's own checkers on every
// generated config, where they are installed.
func TestPeerConfigs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx -t and haproxy -c on every config; skipped with -short")
	}
	checked := 0
	renderAll(t, func(s Scenario, c *Contender, conf, dir string) {
		if c.Name == "hotpath" {
			return
		}
		bin, ok := lookPeer(c.Name)
		if !ok {
			return
		}
		if c.Name == "nginx" && os.Geteuid() != 0 {
			return // `user root` and the pid file need root
		}
		c.Binary = bin
		if err := c.check(conf, dir); err != nil {
			t.Errorf("%s/%s: %v", s.Name, c.Name, err)
		}
		checked++
	})
	if checked == 0 {
		t.Skip("neither nginx nor haproxy is installed")
	}
}

func TestShortCheckError(t *testing.T) {
	err := fmt.Errorf("%w: /tmp/x/hotpath.yaml:25: routes[0].cache: unknown field (known: name, host) / 1 problem(s) in /tmp/x/hotpath.yaml", errRejected)
	if got, want := shortCheckError(err, "/tmp/x/hotpath.yaml"), "routes[0].cache: unknown field"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := shortCheckError(errors.New("boom"), "/c"); got != "boom" {
		t.Errorf("got %q", got)
	}
}

func TestSelect(t *testing.T) {
	ss, err := selectScenarios([]string{"gzip", "passthrough_small", "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	if got := scenarioNames(ss); got != "passthrough_small, gzip" {
		t.Errorf("scenarios %q, want them in run order without repeats", got)
	}
	if _, err := selectScenarios([]string{"nope"}); err == nil || !strings.Contains(err.Error(), "passthrough_small") {
		t.Errorf("unknown scenario: %v", err)
	}
	cs, err := selectContenders([]string{"hotpath", "nginx"})
	if err != nil || len(cs) != 2 || cs[0].Name != "nginx" || cs[1].Name != "hotpath" {
		t.Errorf("contenders %v, %v", cs, err)
	}
	if _, err := selectContenders([]string{"envoy"}); err == nil {
		t.Error("want an error for an unknown contender")
	}
}
