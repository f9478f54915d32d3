package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/hotpath/hotpath/config"
)

// renderAll renders every contender's config for every scenario.
func renderAll(t *testing.T, each func(s Scenario, c *Contender, conf, dir string)) {
	t.Helper()
	for _, s := range Scenarios() {
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
			conf, err := c.render(dir, site{Listen: "127.0.0.1:18081", Upstream: "127.0.0.1:19001", Root: true, Features: s.Features, Routes: routes})
			if err != nil {
				t.Fatalf("%s/%s: %v", s.Name, name, err)
			}
			each(s, c, conf, dir)
		}
	}
}

// TestHotpathConfigs checks the generated hotpath YAML: plain scenarios
// must pass the config package as it is; feature scenarios must be YAML
// with the per-route schema being wired on another branch.
func TestHotpathConfigs(t *testing.T) {
	renderAll(t, func(s Scenario, c *Contender, conf, _ string) {
		if c.Name != "hotpath" {
			return
		}
		data, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Features.any() {
			cfg, err := config.Parse(conf, data)
			if err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			if want := max(s.Routes, 1); len(cfg.Routes) != want {
				t.Errorf("%s: %d routes, want %d", s.Name, len(cfg.Routes), want)
			}
			if cfg.Listeners[0].Workers != 1 {
				t.Errorf("%s: workers %d, want 1", s.Name, cfg.Listeners[0].Workers)
			}
			return
		}
		var doc struct {
			Routes []map[string]any `yaml:"routes"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, data)
		}
		r := doc.Routes[0]
		want := map[string]string{
			"cache":       "map[default_ttl:60s enabled:true]",
			"rate_limit":  fmt.Sprintf("map[burst:%d key:[client_ip] per:1s rate:%d]", burst(s), rate(s)),
			"compression": "map[encodings:[gzip] gzip_level:5 min_length:1024]",
		}
		for key, w := range want {
			if _, on := r[key]; !on {
				continue
			}
			if got := fmt.Sprint(r[key]); got != w {
				t.Errorf("%s: %s = %s, want %s", s.Name, key, got, w)
			}
		}
		if len(r) < 4 {
			t.Errorf("%s: route has no feature: %v", s.Name, r)
		}
	})
}

func rate(s Scenario) int {
	if s.RateLimit == nil {
		return 0
	}
	return s.RateLimit.Rate
}

func burst(s Scenario) int {
	if s.RateLimit == nil {
		return 0
	}
	return s.RateLimit.Burst
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
