package pool

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// Defaults for HealthCheck (HAProxy's inter 2s, rise 2, fall 3).
const (
	DefaultCheckInterval      = 2 * time.Second
	DefaultCheckTimeout       = 1 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
)

// HealthCheck configures active health checking: a plain HTTP/1.1 GET to
// each endpoint every Interval, on a new connection (Connection: close), off
// the request path.
type HealthCheck struct {
	Path               string        // request target; "" means "/"
	Interval           time.Duration // between checks of one endpoint; 0 means DefaultCheckInterval
	Timeout            time.Duration // dial + request + status line; 0 means DefaultCheckTimeout
	HealthyThreshold   int           // consecutive passes to mark a down endpoint up; 0 means DefaultHealthyThreshold
	UnhealthyThreshold int           // consecutive failures to mark it down; 0 means DefaultUnhealthyThreshold
	ExpectStatus       [2]int        // inclusive range of passing statuses; {0, 0} means 200-399
	Host               string        // Host header; "" means the endpoint's Addr
	// TLS, when set, runs the check over TLS with the config it returns
	// for the endpoint's host (the upstream's tls section).
	TLS func(host string) *tls.Config
	// HTTP2 runs the check over HTTP/2 (health2.go): with prior knowledge
	// over TCP (h2c), or over the TLS above (ALPN h2).
	HTTP2 bool
	// GRPC, with HTTP2, checks with the gRPC health protocol
	// (grpc.health.v1.Health/Check for GRPCService): healthy when SERVING.
	GRPC        bool
	GRPCService string
}

func (hc HealthCheck) withDefaults() HealthCheck {
	if hc.Path == "" {
		hc.Path = "/"
	}
	if hc.Interval <= 0 {
		hc.Interval = DefaultCheckInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultCheckTimeout
	}
	if hc.HealthyThreshold <= 0 {
		hc.HealthyThreshold = DefaultHealthyThreshold
	}
	if hc.UnhealthyThreshold <= 0 {
		hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if hc.ExpectStatus == [2]int{} {
		hc.ExpectStatus = [2]int{200, 399}
	}
	return hc
}

// StartHealthChecks checks every endpoint in eps in its own goroutine, the
// first check at once, and sets its active state (see
// Endpoint.SetActiveHealthy): down after UnhealthyThreshold consecutive
// failures (dial error, timeout, malformed reply or a status outside
// ExpectStatus), up again after HealthyThreshold consecutive passes.
// Endpoints start healthy. stop cancels the checks, including any in
// progress, and returns once every goroutine has exited; calling it again
// does nothing. Endpoints keep the state they had when stopped.
func StartHealthChecks(eps []*Endpoint, hc HealthCheck) (stop func()) {
	hc = hc.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, e := range eps {
		wg.Go(func() { checkLoop(ctx, e, hc) })
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

func checkLoop(ctx context.Context, e *Endpoint, hc HealthCheck) {
	host := hc.Host
	if host == "" {
		host = e.Addr
	}
	req := []byte("GET " + hc.Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: hotpath-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	t := time.NewTicker(hc.Interval)
	defer t.Stop()
	passes, fails := 0, 0
	for {
		err := probe(ctx, e.Addr, req, hc)
		if ctx.Err() != nil {
			return // cancelled: the result says nothing about the endpoint
		}
		if err == nil {
			e.checksPassed.Add(1)
			passes, fails = passes+1, 0
			if passes >= hc.HealthyThreshold && e.down.Load() {
				e.down.Store(false)
			}
		} else {
			e.checksFailed.Add(1)
			passes, fails = 0, fails+1
			if fails >= hc.UnhealthyThreshold && !e.down.Load() {
				e.down.Store(true)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe sends req to addr and checks the status line of the reply.
func probe(ctx context.Context, addr string, req []byte, hc HealthCheck) error {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	// Cancellation (stop) interrupts a read or write in progress.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	if hc.TLS != nil {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		tc := tls.Client(conn, hc.TLS(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	if hc.HTTP2 {
		return probeHTTP2(ctx, conn, addr, hc)
	}
	if _, err := conn.Write(req); err != nil {
		return err
	}
	var buf [256]byte
	n := 0
	for bytes.IndexByte(buf[:n], '\n') < 0 {
		if n == len(buf) {
			return errBadResponse
		}
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil && bytes.IndexByte(buf[:n], '\n') < 0 {
			return err
		}
	}
	code, err := statusCode(buf[:n])
	if err != nil {
		return err
	}
	if code < hc.ExpectStatus[0] || code > hc.ExpectStatus[1] {
		return fmt.Errorf("%w: %d", errStatus, code)
	}
	return nil
}

// statusCode parses "HTTP/1.x NNN ..." (RFC 9112 §4).
func statusCode(b []byte) (int, error) {
	if len(b) < 12 || !bytes.HasPrefix(b, []byte("HTTP/1.")) || b[8] != ' ' {
		return 0, errBadResponse
	}
	code := 0
	for _, c := range b[9:12] {
		if c < '0' || c > '9' {
			return 0, errBadResponse
		}
		code = code*10 + int(c-'0')
	}
	return code, nil
}
