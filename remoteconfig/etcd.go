// Package remoteconfig reads the gateway's configuration from an etcd key,
// watches the key for changes, and publishes each instance's status (the
// revision it runs, the last error) beside it under a lease.
//
//	hotpath -config etcd://10.0.0.1:2379,10.0.0.2:2379/hotpath/config
//
// Every instance of a fleet watches the same key and applies a new document
// as a SIGHUP reload does: a document that does not load is refused and the
// running configuration keeps serving. Each instance keeps
// /hotpath/status/<instance> (beside the key's parent: <parent>/status/) up
// to date with a lease, so that the key of an instance that stopped
// disappears. While etcd is unreachable the instance keeps serving its last
// good configuration, and the client resumes the watch when etcd returns.
package remoteconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hotpath/hotpath/config"
)

// Scheme starts a configuration location in etcd.
const Scheme = "etcd://"

// IsURL reports whether s names a configuration in etcd.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Options configure Open.
type Options struct {
	// Instance names this gateway in its status key; "" means
	// <hostname>-<pid>.
	Instance string
	// DialTimeout bounds connecting and each read; 0 means 5s.
	DialTimeout time.Duration
	// StatusTTL is the lease of the status key; 0 means 10s.
	StatusTTL time.Duration
	// Username and Password authenticate when the cluster has auth on.
	Username, Password string
	// Logger receives the watch's and status writer's problems; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Etcd is a configuration document in one etcd key. Its methods are safe
// for concurrent use.
type Etcd struct {
	client    *clientv3.Client
	endpoints []string
	key       string
	statusKey string
	opts      Options
	log       *slog.Logger

	mu      sync.Mutex
	status  Status
	changed chan struct{} // signals the status writer (buffer 1)
}

// Status is what an instance publishes under its status key, as JSON.
type Status struct {
	Instance string `json:"instance"`
	// Revision is the etcd revision of the configuration it runs.
	Revision int64 `json:"revision"`
	// Seen is the latest revision of the key it read; greater than
	// Revision when that one was refused.
	Seen int64 `json:"seen"`
	// Error is why Seen was refused ("" when it runs Seen).
	Error   string    `json:"error,omitempty"`
	Updated time.Time `json:"updated"`
}

// Open connects to the cluster and key named by url,
// etcd://host:port[,host:port...]/key. Connecting is lazy: an unreachable
// cluster shows in Load.
func Open(url string, o Options) (*Etcd, error) {
	if !IsURL(url) {
		return nil, fmt.Errorf("remoteconfig: %q does not start with %s", url, Scheme)
	}
	hosts, key, ok := strings.Cut(strings.TrimPrefix(url, Scheme), "/")
	if !ok || hosts == "" || key == "" {
		return nil, fmt.Errorf("remoteconfig: want etcd://host:port[,host:port]/key, got %q", url)
	}
	key = "/" + key
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.StatusTTL <= 0 {
		o.StatusTTL = 10 * time.Second
	}
	if o.Instance == "" {
		o.Instance = DefaultInstance()
	}
	e := &Etcd{endpoints: strings.Split(hosts, ","), key: key, opts: o, log: o.Logger, changed: make(chan struct{}, 1)}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.statusKey = path.Join(path.Dir(key), "status", o.Instance)
	c, err := NewClient(e.endpoints, o.DialTimeout, o.Username, o.Password)
	if err != nil {
		return nil, err
	}
	e.client = c
	e.status = Status{Instance: o.Instance}
	return e, nil
}

// NewClient returns an etcd client for endpoints, logging nothing of its
// own (its retries would flood the process log while etcd is down).
func NewClient(endpoints []string, dialTimeout time.Duration, username, password string) (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: dialTimeout,
		Username:    username,
		Password:    password,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("remoteconfig: etcd client: %w", err)
	}
	return c, nil
}

// DefaultInstance is <hostname>-<pid>.
func DefaultInstance() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "hotpath"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// Client returns the etcd client, for endpoint discovery on the same
// cluster.
func (e *Etcd) Client() *clientv3.Client { return e.client }

// Endpoints returns the cluster's client addresses.
func (e *Etcd) Endpoints() []string { return append([]string(nil), e.endpoints...) }

// Name is the configuration's source name in messages and Config.Source.
func (e *Etcd) Name() string { return Scheme + strings.Join(e.endpoints, ",") + e.key }

// StatusKey is the key this instance's status is written to.
func (e *Etcd) StatusKey() string { return e.statusKey }

// ErrNoConfig is returned by Load when the key does not exist.
var ErrNoConfig = errors.New("remoteconfig: the configuration key does not exist")

// Read returns the document in the key and its modification revision.
func (e *Etcd) Read(ctx context.Context) (doc []byte, rev int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	resp, err := e.client.Get(ctx, e.key)
	if err != nil {
		return nil, 0, fmt.Errorf("remoteconfig: read %s: %w", e.Name(), err)
	}
	if len(resp.Kvs) == 0 {
		return nil, resp.Header.Revision, fmt.Errorf("%w: %s", ErrNoConfig, e.Name())
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision, nil
}

// Load reads the key and parses it (config.Parse: every problem with its
// line). rev is the key's modification revision, also when the document
// does not parse.
func (e *Etcd) Load(ctx context.Context) (cfg *config.Config, rev int64, err error) {
	doc, rev, err := e.Read(ctx)
	if err != nil {
		return nil, rev, err
	}
	cfg, err = config.Parse(e.Name(), doc)
	return cfg, rev, err
}

// Watch calls apply with each new version of the document (its bytes and
// revision; nil bytes when the key was deleted) until ctx is done. After
// the watch breaks (etcd restarted and compacted, or the client gave up),
// it reads the key again and delivers it when its revision moved past
// from. It blocks: run it in a goroutine.
func (e *Etcd) Watch(ctx context.Context, from int64, apply func(doc []byte, rev int64)) {
	last := from
	for ctx.Err() == nil {
		wch := e.client.Watch(clientv3.WithRequireLeader(ctx), e.key, clientv3.WithRev(last+1))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				e.log.Warn("config watch interrupted; reading the key again", "key", e.Name(), "err", err)
				break
			}
			for _, ev := range wr.Events {
				last = ev.Kv.ModRevision
				if ev.Type == clientv3.EventTypeDelete {
					apply(nil, last)
				} else {
					apply(ev.Kv.Value, last)
				}
			}
		}
		for ctx.Err() == nil {
			gctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
			resp, err := e.client.Get(gctx, e.key)
			cancel()
			if err == nil {
				if len(resp.Kvs) > 0 && resp.Kvs[0].ModRevision > last {
					last = resp.Kvs[0].ModRevision
					apply(resp.Kvs[0].Value, last)
				}
				last = max(last, resp.Header.Revision)
				break
			}
			if !sleep(ctx, time.Second) { // etcd unreachable: retry the read
				return
			}
		}
	}
}

// Report records the outcome of loading revision seen: running is the
// revision the instance runs now, err why seen was refused (nil when it
// was applied). The status writer (RunStatus) publishes it.
func (e *Etcd) Report(running, seen int64, err error) {
	e.mu.Lock()
	e.status.Revision, e.status.Seen, e.status.Error = running, seen, ""
	if err != nil {
		e.status.Error = err.Error()
	}
	e.status.Updated = time.Now().UTC()
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// Status returns the status last reported.
func (e *Etcd) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// RunStatus keeps the status key written under a lease it keeps alive,
// rewriting it after each Report and whenever the lease was lost (etcd
// restarted, or was unreachable past the TTL), until ctx is done; then it
// revokes the lease so the key goes at once. It blocks: run it in a
// goroutine.
func (e *Etcd) RunStatus(ctx context.Context) {
	for ctx.Err() == nil {
		lease, err := e.writeStatus(ctx, 0)
		if err != nil {
			if !sleep(ctx, time.Second) { // retry while etcd is unreachable
				return
			}
			continue
		}
		kctx, cancel := context.WithCancel(ctx)
		ka, err := e.client.KeepAlive(kctx, lease)
		if err != nil {
			cancel()
			continue
		}
	alive:
		for {
			select {
			case _, ok := <-ka:
				if !ok {
					break alive // lease lost: grant a new one
				}
			case <-e.changed:
				if _, err := e.writeStatus(ctx, lease); err != nil {
					break alive
				}
			case <-ctx.Done():
				break alive
			}
		}
		cancel()
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = e.client.Revoke(rctx, lease)
			rcancel()
		}
	}
}

// writeStatus puts the status under lease, granting one first when lease
// is 0, and returns the lease.
func (e *Etcd) writeStatus(ctx context.Context, lease clientv3.LeaseID) (clientv3.LeaseID, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.DialTimeout)
	defer cancel()
	if lease == 0 {
		g, err := e.client.Grant(ctx, int64(e.opts.StatusTTL/time.Second))
		if err != nil {
			return 0, err
		}
		lease = g.ID
	}
	b, _ := json.Marshal(e.Status())
	_, err := e.client.Put(ctx, e.statusKey, string(b), clientv3.WithLease(lease))
	return lease, err
}

// Close closes the client.
func (e *Etcd) Close() error { return e.client.Close() }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
