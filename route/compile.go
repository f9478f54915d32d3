package route

import (
	"fmt"
	"strings"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/limiter"
	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/pool"
	"github.com/hotpath/hotpath/trie"
)

// Compile compiles cfg into a Table and returns every problem it finds,
// each naming its field (config.Errors, in config order). It does not stop
// at the first: an upstream in error is still described (Invalid), so the
// routes that name it are compiled and their own problems reported.
//
// cfg should have passed config's validation; Compile tolerates one that
// did not (hotpath -check compiles it to report everything in one run),
// reporting nothing validation reports.
func Compile(cfg *config.Config) (*Table, config.Errors) {
	var errs config.Errors
	t := &Table{
		Limits: parser.Limits{
			MaxRequestLine: int(cfg.Limits.MaxRequestLineBytes),
			MaxHead:        int(cfg.Limits.MaxHeadBytes),
			MaxHeaders:     cfg.Limits.MaxHeaders,
			AllowBareLF:    cfg.Limits.AllowBareLF,
		},
		MaxBufferedBytes: int(cfg.Limits.MaxBufferedBytes),
		Timeouts: Timeouts{
			ClientHeader:   int64(cfg.Timeouts.ClientHeader),
			ClientBody:     int64(cfg.Timeouts.ClientBody),
			ClientIdle:     int64(cfg.Timeouts.ClientIdle),
			Connect:        int64(cfg.Timeouts.Connect),
			UpstreamHeader: int64(cfg.Timeouts.UpstreamHeader),
			UpstreamRead:   int64(cfg.Timeouts.UpstreamRead),
			ClientSend:     int64(cfg.Timeouts.ClientSend),
			Pending:        int64(cfg.Timeouts.Pending),
			TunnelIdle:     int64(cfg.Timeouts.TunnelIdle),
		},
		Forwarded: Forwarded{
			For:   cfg.Forwarded.XForwardedFor,
			Proto: cfg.Forwarded.XForwardedProto,
			Host:  cfg.Forwarded.XForwardedHost,
		},
		ErrorsOnly: cfg.AccessLog.ErrorsOnly,
		Store: CacheStore{
			MaxBytes:       int64(cfg.Cache.MaxBytes),
			MaxObjectBytes: int64(cfg.Cache.MaxObjectBytes),
			CoalesceWait:   cfg.Cache.CoalesceWait,
		},
	}
	if cfg.Forwarded.Via {
		t.Via = []byte("Via: 1.1 " + cfg.Forwarded.ViaName + "\r\n")
	}
	switch cfg.Router.TrailingSlash {
	case "redirect":
		t.Trie.TrailingSlash = trie.TrailingSlashRedirect
	case "ignore":
		t.Trie.TrailingSlash = trie.TrailingSlashIgnore
	}
	switch cfg.Limits.UnderscoresInHeaders {
	case "reject":
		t.Underscores = UnderscoresReject
	case "forward":
		t.Underscores = UnderscoresForward
	}
	switch cfg.Router.PathNormalization {
	case "decode":
		t.PathNorm = trie.NormalizeDecode
	case "keep":
		t.PathNorm = trie.NormalizeKeep
	}

	byName := map[string]int{}
	for i := range cfg.Upstreams {
		u := compileUpstream(cfg, i, &errs)
		byName[u.Name] = i // names are unique once validated
		t.Upstreams = append(t.Upstreams, u)
	}
	for i := range cfg.Routes {
		t.Routes = append(t.Routes, compileRoute(cfg, i, byName, &errs))
	}
	return t, errs
}

// compileUpstream compiles upstreams[i].
func compileUpstream(cfg *config.Config, i int, errs *config.Errors) Upstream {
	uc := &cfg.Upstreams[i]
	u := Upstream{
		ID:                 i,
		Name:               uc.Name,
		Protocol:           uc.Protocol,
		SlowStart:          uc.SlowStart,
		RetryPercent:       uc.RetryBudget.Percent,
		RetryMinConcurrent: uc.RetryBudget.MinConcurrent,
		Limits: pool.Limits{
			MaxConns:    uc.Pool.MaxConns,
			MaxIdle:     uc.Pool.MaxIdle,
			MaxRequests: uc.Pool.MaxRequests,
			IdleTimeout: uc.Pool.IdleTimeout,
		},
		MaxPending: uc.Pool.MaxPending,
		Pipeline:   uc.Pool.Pipeline,
	}
	for _, e := range uc.Endpoints {
		u.Endpoints = append(u.Endpoints, Endpoint{Address: e.Address, Weight: e.Weight})
	}
	if ph := uc.Health.Passive; ph != nil {
		u.Passive = &pool.PassiveConfig{
			ConsecutiveFailures: ph.ConsecutiveFailures,
			BaseEjection:        ph.BaseEjection,
			MaxEjection:         ph.MaxEjection,
		}
	}
	// Discovery may not have answered yet: no endpoints, 503 (gateway/fleet.go).
	u.Balancer = pool.BalancerConfig{Kind: uc.Balancer, AllowEmpty: uc.Discovery != nil}
	if uc.HashKey != "" {
		kind, name, err := config.ParseHashKey(uc.HashKey)
		if err == nil {
			u.Balancer.Key, err = pool.ParseKeyKind(kind)
		}
		if err != nil {
			*errs = append(*errs, cfg.Errorf(fmt.Sprintf("upstreams[%d].hash_key", i), err.Error()))
			u.Invalid = true
		}
		u.Balancer.KeyName = name
	}
	u.Key, u.KeyName = u.Balancer.Key, u.Balancer.KeyName
	if u.Balancer.Kind != pool.KindMaglev && u.Balancer.Kind != pool.KindRingHash {
		u.Key = pool.KeyNone // hashing is wasted on the other kinds
	}
	if u.Limits.MaxIdle == 0 {
		u.Limits.MaxIdle = -1 // config: 0 keeps none; pool: 0 means its default
	}
	if u.Limits.MaxRequests == 0 {
		u.Limits.MaxRequests = -1 // config: 0 is unlimited
	}
	if a := uc.Health.Active; a != nil {
		u.Health = &pool.HealthCheck{
			Path:               a.Path,
			Interval:           a.Interval,
			Timeout:            a.Timeout,
			HealthyThreshold:   a.HealthyThreshold,
			UnhealthyThreshold: a.UnhealthyThreshold,
			HTTP2:              uc.Protocol == "h2c" || uc.Protocol == "h2", // and over HTTP/2, as requests are
		}
		if a.GRPC != nil {
			u.Health.GRPC, u.Health.GRPCService = true, a.GRPC.Service
		}
	}
	return u
}

// compileRoute compiles routes[i]; byName maps upstream names to indexes.
func compileRoute(cfg *config.Config, i int, byName map[string]int, errs *config.Errors) Route {
	rc := &cfg.Routes[i]
	p := fmt.Sprintf("routes[%d]", i)
	r := Route{
		ID:           i,
		Name:         rc.Name,
		Host:         rc.Host,
		Path:         rc.Path,
		Methods:      rc.Methods,
		Upstream:     -1,
		GRPCOnly:     rc.Protocol == "grpc",
		PreserveHost: rc.PreserveHost,
	}
	if r.Name == "" {
		r.Name = rc.Path
	}
	if j, ok := byName[rc.Upstream]; ok && rc.Upstream != "" {
		r.Upstream = j
	}
	if rc.Direct != nil {
		r.Direct = renderDirect(rc.Direct)
	}
	if rc.StripPrefix != "" {
		r.Strip = []byte(strings.TrimSuffix(rc.StripPrefix, "/"))
	}
	if rc.Rewrite != "" {
		r.Rewrite = ParseRewrite(rc.Rewrite)
	}
	if rc.HostRewrite != "" {
		r.HostRewrite = []byte(rc.HostRewrite)
	}
	for _, proto := range rc.Upgrade {
		r.Upgrade = append(r.Upgrade, []byte(strings.ToLower(proto)))
	}
	r.Edits = compileEdits(cfg, p, rc.Headers, errs)
	if rl := rc.RateLimit; rl != nil {
		r.RateLimit = compileRateLimit(cfg, p+".rate_limit", rl, errs)
	}
	if a := rc.Aggregate; a != nil {
		r.Aggregate = &Aggregate{}
		for j, pc := range a.Parts {
			u, ok := byName[pc.Upstream]
			if !ok {
				*errs = append(*errs, cfg.Errorf(fmt.Sprintf("%s.aggregate.parts[%d].upstream", p, j), fmt.Sprintf("unknown upstream %q", pc.Upstream)))
				continue
			}
			part := AggregatePart{Name: pc.Name, Upstream: u, Target: ParseTemplate(pc.Path, config.IsTemplateNameByte)}
			for _, h := range pc.Headers {
				part.Headers = append(part.Headers, strings.ToLower(h))
			}
			r.Aggregate.Parts = append(r.Aggregate.Parts, part)
		}
		if len(r.Methods) == 0 {
			r.Methods = []string{"GET", "HEAD"} // others get 405 with Allow
		}
	}
	if len(r.Methods) == 0 {
		r.Methods = []string{"*"}
	}
	return r
}

// compileRateLimit compiles a route's rate_limit section (at path). The
// limiter's own checks run on a tiny table: the engine allocates the real
// one.
func compileRateLimit(cfg *config.Config, path string, rl *config.RateLimit, errs *config.Errors) *RateLimit {
	burst := rl.Burst
	if burst == 0 {
		burst = rl.Rate
	}
	out := &RateLimit{
		Config: limiter.Config{
			Name:   rl.PolicyName,
			Rate:   float64(rl.Rate) / rl.Per.Seconds(),
			Burst:  burst,
			Slots:  rl.Slots,
			Shadow: rl.Shadow,
			Track:  rl.Scope == config.ScopeGlobal,
		},
		Global: rl.Scope == config.ScopeGlobal,
	}
	probe := out.Config
	probe.Slots = 8
	if _, err := limiter.New(probe); err != nil {
		field := ".rate"
		switch err {
		case limiter.ErrPolicyName:
			field = ".policy_name"
		case limiter.ErrBurst, limiter.ErrWindow:
			field = ".burst"
		}
		*errs = append(*errs, cfg.Errorf(path+field, err.Error()))
	}
	out.Key = compileKeySpec(cfg, path+".key", rl.Key, errs)
	return out
}

// compileKeySpec compiles a rate_limit.key (at path): each part through
// config's kind:name parser, then limiter's kinds.
func compileKeySpec(cfg *config.Config, path string, keys []string, errs *config.Errors) limiter.KeySpec {
	parts := make([]limiter.KeyPart, 0, len(keys))
	for j, k := range keys {
		kind, name, err := config.ParseRateLimitKey(k)
		var kk limiter.KeyKind
		if err == nil {
			kk, err = limiter.ParseKeyKind(kind)
		}
		if err != nil {
			*errs = append(*errs, cfg.Errorf(fmt.Sprintf("%s[%d]", path, j), err.Error()))
			continue
		}
		parts = append(parts, limiter.KeyPart{Kind: kk, Name: name})
	}
	spec, _ := limiter.NewKeySpec(parts) // the parts are valid: an error is above
	return spec
}
