package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The browser guard. Without admin.token_file the admin API trusts whoever
// reaches it, and a browser on the same machine can be made to reach it:
// a cross-site page can POST a form to http://127.0.0.1:9901/reload, and
// a page whose name the attacker re-resolves to 127.0.0.1 (DNS rebinding)
// can even read GET /config. The guard refuses both, token or not, with
// 403, on every endpoint but the scrape and probe ones:
//
//   - Host must be a loopback name (localhost), an IP address (a
//     rebinding page always sends its own name, never an address), the
//     host of Options.Addr, or one of Options.AllowedHosts; the port is
//     not compared. AllowedHosts ["*"] turns this check off.
//   - A request with an Origin other than the listener's own
//     (http://<Host>), or with Sec-Fetch-Site other than same-origin or
//     none (the user typed the URL), comes from a page of another site.
//
// /metrics, /healthz and /readyz are not guarded: scrapers and probes send
// whatever Host their target list says (an IP, a node name), never an
// Origin; those endpoints change nothing, and another origin's page cannot
// read their answers. Through DNS rebinding a page could read /metrics.
//
// State-changing endpoints (POST /reload, POST /cache/purge, POST
// /debug/pprof/rates) answer 405 to other methods, so a link or an <img>
// cannot trigger them.

// unguarded reports whether path is a scrape or probe endpoint, served to
// any Host and without a token.
func unguarded(path string) bool {
	switch path {
	case "/metrics", "/healthz", "/readyz":
		return true
	}
	return false
}

// allowHosts prepares the Host check from the options.
func (s *Server) allowHosts() {
	s.hosts = map[string]bool{"localhost": true}
	for _, h := range s.opts.AllowedHosts {
		if h == "*" {
			s.anyHost = true
			continue
		}
		s.hosts[normHost(h)] = true
	}
	if host, _, err := net.SplitHostPort(s.opts.Addr); err == nil && host != "" {
		s.hosts[normHost(host)] = true
	}
}

// normHost lower-cases a host name and drops a final dot.
func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// hostAllowed reports whether a request's Host (host or host:port) names
// this listener.
func (s *Server) hostAllowed(hostport string) bool {
	if s.anyHost {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return s.hosts[normHost(host)]
}

// crossSite reports whether r comes from a page of another origin: an
// Origin that is not http://<Host>, or fetch metadata saying so.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default: // cross-site, same-site (another port of localhost is same-site)
		return true
	}
	origin := r.Header.Get("Origin")
	return origin != "" && !strings.EqualFold(origin, "http://"+r.Host)
}

// guard wraps next with the Host and cross-site checks.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !unguarded(r.URL.Path) {
			if !s.hostAllowed(r.Host) {
				text(w, http.StatusForbidden, "forbidden: the Host is not a name of this admin listener (localhost, an IP address, the admin.address host or admin.allowed_hosts)")
				return
			}
			if crossSite(r) {
				text(w, http.StatusForbidden, "forbidden: a cross-site request (Origin or Sec-Fetch-Site) to the admin API")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
