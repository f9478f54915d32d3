package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Etcd watches the keys under Prefix, one endpoint per key, whose value is
// the JSON of an Endpoint ({"address": "10.0.0.5:8080", "weight": 2,
// "metadata": {...}}). Services register themselves by writing their key
// with a lease they keep alive, so that a service that dies drops out when
// its lease expires.
//
// Run reads the prefix, reports the set, then watches from the revision it
// read and reports the set after each change. A value that is not a valid
// endpoint is left out and reported as an error (after the set). When the
// watch fails (the cluster compacted the revision, the client gave up) it
// reads the prefix again; while etcd is unreachable the client retries on
// its own and the consumer keeps the last set.
type Etcd struct {
	Client *clientv3.Client
	Prefix string
	// Timeout bounds the initial read; 0 means 5s.
	Timeout time.Duration
}

// Run implements Source.
func (e *Etcd) Run(ctx context.Context, report func([]Endpoint, error)) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	failures := 0
	for ctx.Err() == nil {
		gctx, cancel := context.WithTimeout(ctx, timeout)
		resp, err := e.Client.Get(gctx, e.Prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			report(nil, fmt.Errorf("discovery: etcd: read %s: %w", e.Prefix, err))
			wait(ctx, backoff(failures, 5*time.Second))
			continue
		}
		failures = 0
		set := map[string][]byte{}
		for _, kv := range resp.Kvs {
			set[string(kv.Key)] = kv.Value
		}
		e.report(set, report)
		// Watch until the watch fails, then read again.
		wch := e.Client.Watch(clientv3.WithRequireLeader(ctx), e.Prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		for wr := range wch {
			if err := wr.Err(); err != nil {
				report(nil, fmt.Errorf("discovery: etcd: watch %s: %w", e.Prefix, err))
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					delete(set, string(ev.Kv.Key))
				} else {
					set[string(ev.Kv.Key)] = ev.Kv.Value
				}
			}
			e.report(set, report)
		}
		if ctx.Err() == nil {
			wait(ctx, backoff(1, time.Second)) // then read again
		}
	}
}

// report sends the endpoints of set, then one error naming the keys whose
// values are not endpoints, if any.
func (e *Etcd) report(set map[string][]byte, report func([]Endpoint, error)) {
	eps := make([]Endpoint, 0, len(set))
	var bad []string
	for k, v := range set {
		ep, err := parseEndpoint(v)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		eps = append(eps, ep)
	}
	sortEndpoints(eps)
	report(eps, nil)
	if len(bad) > 0 {
		report(nil, fmt.Errorf("discovery: etcd: keys left out: %s", strings.Join(bad, "; ")))
	}
}

func parseEndpoint(v []byte) (Endpoint, error) {
	var ep Endpoint
	if err := json.Unmarshal(v, &ep); err != nil {
		return ep, fmt.Errorf("not an endpoint's JSON: %w", err)
	}
	if _, port, err := net.SplitHostPort(ep.Address); err != nil || port == "" {
		return ep, fmt.Errorf("address %q is not host:port", ep.Address)
	}
	if ep.Weight < 0 {
		return ep, fmt.Errorf("weight %d is negative", ep.Weight)
	}
	ep.Weight = max(ep.Weight, 1)
	return ep, nil
}
