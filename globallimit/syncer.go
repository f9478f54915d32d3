package globallimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/hotpath/hotpath/limiter"
)

// Options configure a Syncer: where Redis is and how often to sync.
type Options struct {
	// Name names the Redis deployment in logs and metrics.
	Name string
	// Addrs is one host:port, the sentinels (with MasterName) or the
	// Cluster seeds (with Cluster).
	Addrs      []string
	MasterName string
	Cluster    bool
	// Username and Password authenticate; SentinelPassword authenticates
	// to the sentinels.
	Username, Password, SentinelPassword string
	DB                                   int
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step of
	// a sync; 0 means 1s, 500ms, 500ms.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// SyncInterval is the time between two syncs; 0 means 200ms.
	SyncInterval time.Duration
	// KeyPrefix starts every key; "" means "hotpath:".
	KeyPrefix string
	// Logger receives one line per change of state; nil means slog.Default().
	Logger *slog.Logger
}

// Limit is one global rate limit bound to a Syncer.
type Limit struct {
	// Name identifies the limit in the fleet: instances share a limit's
	// buckets when they give it the same Name (the route's name).
	Name string
	// GCRA is the limit's tracked limiter (limiter.Config.Track), on which
	// the event loops decide.
	GCRA *limiter.GCRA
	// Share is the part of the limit the instance enforces alone while
	// Redis is unreachable: in (0, 1] for local_share, 0 to fail open.
	Share float64
}

// maxBatch bounds the keys of one script call (Lua's unpack has a stack
// limit of a few thousand values).
const maxBatch = 512

// Syncer shares the limits bound to it through one Redis deployment. Its
// methods are safe for concurrent use.
type Syncer struct {
	opts   Options
	log    *slog.Logger
	client redis.UniversalClient
	script *redis.Script

	bound   atomic.Pointer[binding] // what the next sync reads
	drained time.Time               // the previous drain (the sync goroutine's own)

	mu     sync.Mutex // serializes Bind with state changes
	up     bool       // the last sync (or probe) reached Redis
	cancel context.CancelFunc
	done   chan struct{}

	stats struct {
		syncs, failures, fallbacks, keys, commands atomic.Int64
		lastSync                                   atomic.Int64 // Unix nanoseconds of the last good sync
		up                                         atomic.Bool
	}
}

// binding is the set of limits a sync serves and the clock their loops use.
type binding struct {
	limits []Limit
	now    func() int64
}

// New returns a Syncer for o. It does not connect yet: Start does, in the
// background.
func New(o Options) (*Syncer, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("globallimit: no redis address")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 500 * time.Millisecond
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 500 * time.Millisecond
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 200 * time.Millisecond
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "hotpath:"
	}
	s := &Syncer{opts: o, log: o.Logger, script: redis.NewScript(chargeScript)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("redis", o.Name)
	s.client = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:            o.Addrs,
		MasterName:       o.MasterName,
		IsClusterMode:    o.Cluster,
		Username:         o.Username,
		Password:         o.Password,
		SentinelPassword: o.SentinelPassword,
		DB:               o.DB,
		DialTimeout:      o.DialTimeout,
		ReadTimeout:      o.ReadTimeout,
		WriteTimeout:     o.WriteTimeout,
		// A failed sync is not retried: the limits fall back, and the next
		// interval tries again.
		MaxRetries:    -1,
		DialerRetries: 1,
		PoolSize:      2,
		PoolTimeout:   o.DialTimeout,
		// RESP2 without CLIENT SETINFO or maintenance notifications: no
		// handshake commands beyond AUTH/SELECT.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	s.bound.Store(&binding{})
	quietClientLog.Do(func() { redis.SetLogger(debugLog{}) })
	return s, nil
}

// quietClientLog silences go-redis's own log once per process: it prints a
// line for every failed dial, and the Syncer logs once per change of state
// instead. (go-redis has only this process-wide setting.)
var quietClientLog sync.Once

// debugLog sends go-redis's messages to slog's default logger at Debug.
type debugLog struct{}

func (debugLog) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// Start runs the sync loop in a background goroutine. Until the first
// sync reaches Redis the bound limits are in their fallback.
func (s *Syncer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.cancel, s.done = cancel, make(chan struct{})
	s.mu.Unlock()
	go s.run(ctx)
}

// Close stops the sync loop and closes the Redis connections. The bound
// limiters are left in whatever state they are.
func (s *Syncer) Close() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	_ = s.client.Close()
}

// Bind replaces the limits the Syncer serves. now is the clock the event
// loops decide with (monotonic nanoseconds, the limiter's `now`). Each
// limit is put in the state the Syncer is in: the whole limit while Redis
// answers, its fallback share otherwise.
func (s *Syncer) Bind(limits []Limit, now func() int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range limits {
		l.GCRA.SetShare(s.share(l))
	}
	s.bound.Store(&binding{limits: append([]Limit(nil), limits...), now: now})
}

// share is the share l runs at in the current state. Call with s.mu held.
func (s *Syncer) share(l Limit) float64 {
	if s.up {
		return 1
	}
	return l.Share
}

// setUp records the outcome of a sync or probe; a change of state is
// logged once, applied to every bound limit, and a fall back counted.
func (s *Syncer) setUp(up bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.up.Store(up)
	if s.up == up {
		return
	}
	s.up = up
	for _, l := range s.bound.Load().limits {
		l.GCRA.SetShare(s.share(l))
	}
	if up {
		s.log.Info("global rate limits: redis reachable, syncing", "interval", s.opts.SyncInterval)
		return
	}
	s.stats.fallbacks.Add(1)
	s.log.Warn("global rate limits: redis unreachable, each instance enforces its fallback share until it answers", "err", err)
}

func (s *Syncer) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	var batches [][]limiter.Pending
	for {
		batches = s.sync(ctx, batches)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync drains every bound limit and, while Redis answers, charges what was
// admitted and adopts the fleet's state; otherwise it drops the drained
// activity (it was decided under the fallback) and probes Redis. batches
// is scratch space reused between syncs.
func (s *Syncer) sync(ctx context.Context, batches [][]limiter.Pending) [][]limiter.Pending {
	b := s.bound.Load()
	for len(batches) < len(b.limits) {
		batches = append(batches, nil)
	}
	keys := 0
	for i, l := range b.limits {
		batches[i] = l.GCRA.Drain(batches[i][:0])
		keys += len(batches[i])
	}
	drained := time.Now()
	span := s.opts.SyncInterval
	if !s.drained.IsZero() {
		span = drained.Sub(s.drained)
	}
	s.drained = drained
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	if !up {
		s.stats.commands.Add(1)
		pctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout+s.opts.ReadTimeout)
		err := s.client.Ping(pctx).Err()
		cancel()
		if ctx.Err() == nil {
			s.setUp(err == nil, err)
		}
		return batches
	}
	if keys == 0 {
		return batches
	}
	err := s.charge(ctx, b, batches, span)
	if ctx.Err() != nil {
		return batches
	}
	if err != nil {
		s.stats.failures.Add(1)
		s.setUp(false, err)
		return batches
	}
	s.stats.syncs.Add(1)
	s.stats.keys.Add(int64(keys))
	s.stats.lastSync.Store(time.Now().UnixNano())
	return batches
}

// charge runs the script for every batch in one pipeline and adopts the
// answers.
func (s *Syncer) charge(ctx context.Context, b *binding, batches [][]limiter.Pending, span time.Duration) error {
	type call struct {
		limit int
		from  int
		cmd   *redis.Cmd
	}
	var calls []call
	// sent is the loops' clock when the pipeline leaves: the script runs
	// then (plus a one-way trip), so the fleet's TAT is sent + rel. Taking
	// the clock after the answer instead would add the time the answer
	// waited for this goroutine to run, and hold the fleet below its limit.
	var sent int64
	run := func(useSha bool) error {
		calls = calls[:0]
		pipe := s.client.Pipeline()
		for i, l := range b.limits {
			ps := batches[i]
			prefix := s.opts.KeyPrefix + "{" + l.Name + "}:"
			emission := float64(l.GCRA.Emission()) / 1e3 // µs
			for from := 0; from < len(ps); from += maxBatch {
				chunk := ps[from:min(from+maxBatch, len(ps))]
				keys := make([]string, len(chunk))
				args := make([]any, 2+len(chunk))
				args[0] = int64(l.GCRA.MaxAhead() / time.Microsecond)
				args[1] = int64(span / time.Microsecond)
				for j, p := range chunk {
					keys[j] = prefix + strconv.FormatUint(p.Key|1<<63, 16)[1:] // 16 hex digits
					args[2+j] = int64(float64(p.Admitted)*emission + 0.5)
				}
				var cmd *redis.Cmd
				if useSha {
					cmd = s.script.EvalSha(ctx, pipe, keys, args...)
				} else {
					cmd = s.script.Eval(ctx, pipe, keys, args...)
				}
				calls = append(calls, call{limit: i, from: from, cmd: cmd})
			}
		}
		s.stats.commands.Add(int64(len(calls)))
		sent = b.now()
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run(true)
	if err != nil && isNoScript(err) {
		err = run(false) // Redis restarted or flushed its scripts: send the source
	}
	if err != nil {
		return err
	}
	for _, c := range calls {
		rels, err := c.cmd.Int64Slice()
		if err != nil {
			return err
		}
		l := b.limits[c.limit]
		for j, rel := range rels {
			l.GCRA.Adopt(batches[c.limit][c.from+j], time.Duration(rel)*time.Microsecond, sent)
		}
	}
	return nil
}

func isNoScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// chargeScript charges admissions to the fleet's GCRA buckets and returns
// their state. KEYS are one limit's buckets (one Cluster slot: they share a
// hash tag); ARGV[1] is how far ahead of now a TAT may go (the depth plus
// the tolerated skew), ARGV[2] the span the admissions were made over (the
// time since the previous drain) and ARGV[2+i] the charge for KEYS[i], all
// in µs. A bucket is its TAT in µs of the server's clock, expiring a second
// after it is full again. It returns, per key, the TAT minus now in µs
// (<= 0: a full bucket).
//
// The charge starts from max(TAT, now - span), not max(TAT, now) as one
// admission would: the batch was admitted over the last span, while the
// bucket was refilling, so charging it all from now would count the
// refill time as spent and hold the fleet below its limit (by 15-20% in a
// simulation of two instances at a 200ms interval). Several instances'
// batches over the same span add up as their admissions would.
const chargeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cap = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local vals = redis.call('MGET', unpack(KEYS))
local out = {}
for i = 1, #KEYS do
  local tat = tonumber(vals[i]) or 0
  local c = tonumber(ARGV[i + 2])
  if c > 0 then
    if tat < now - span then tat = now - span end
    tat = math.min(tat + c, now + cap)
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.max(math.floor((tat - now) / 1000), 0) + 1000)
  end
  out[i] = tat - now
end
return out
`

// Stats is a snapshot of a Syncer's counters, for metrics.
type Stats struct {
	Name string
	// Up says the last sync or probe reached Redis (the limits are shared);
	// false means they run on their fallback.
	Up bool
	// Syncs and Failures count sync round trips by outcome; Fallbacks the
	// times the limits fell back; Keys the keys synced; Commands the
	// script calls and probes sent (one pipeline round trip per sync).
	Syncs, Failures, Fallbacks, Keys, Commands int64
	// LastSync is when the last sync succeeded (zero: never).
	LastSync time.Time
}

// Stats returns the Syncer's counters.
func (s *Syncer) Stats() Stats {
	st := Stats{
		Name:      s.opts.Name,
		Up:        s.stats.up.Load(),
		Syncs:     s.stats.syncs.Load(),
		Failures:  s.stats.failures.Load(),
		Fallbacks: s.stats.fallbacks.Load(),
		Keys:      s.stats.keys.Load(),
		Commands:  s.stats.commands.Load(),
	}
	if ns := s.stats.lastSync.Load(); ns != 0 {
		st.LastSync = time.Unix(0, ns)
	}
	return st
}
