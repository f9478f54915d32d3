package pool

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"golang.org/x/net/http2"
)

// probeHTTP2 sends the check as an HTTP/2 GET on conn (already connected,
// TLS included) with x/net's client connection, and checks the status.
// Active checks run off the loops, one per endpoint per interval, so a
// general-purpose client is fine here.
func probeHTTP2(ctx context.Context, conn net.Conn, addr string, hc HealthCheck) error {
	tr := &http2.Transport{AllowHTTP: true}
	cc, err := tr.NewClientConn(conn)
	if err != nil {
		return err
	}
	defer cc.Close()
	scheme := "http"
	if hc.TLS != nil {
		scheme = "https"
	}
	host := hc.Host
	if host == "" {
		host = addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+hc.Path, nil)
	if err != nil {
		return err
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < hc.ExpectStatus[0] || resp.StatusCode > hc.ExpectStatus[1] {
		return fmt.Errorf("%w: %d", errStatus, resp.StatusCode)
	}
	return nil
}
