package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
)

// probeHTTP2 sends the check as an HTTP/2 GET on conn (already connected,
// TLS included) with net/http's client connection, and checks the status.
// Active checks run off the loops, one per endpoint per interval, so a
// general-purpose client is fine here.
func probeHTTP2(ctx context.Context, conn net.Conn, addr string, hc HealthCheck) error {
	// The transport's dial hands over conn: HTTP/2 with prior knowledge
	// in cleartext, or over the TLS connection that negotiated h2.
	given := func(context.Context, string, string) (net.Conn, error) { return conn, nil }
	tr := &http.Transport{Protocols: new(http.Protocols)}
	scheme := "http"
	if hc.TLS != nil {
		scheme = "https"
		tr.Protocols.SetHTTP2(true)
		tr.DialTLSContext = given
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
		tr.DialContext = given
	}
	defer tr.CloseIdleConnections()
	cc, err := tr.NewClientConn(ctx, scheme, addr)
	if err != nil {
		conn.Close()
		return err
	}
	defer cc.Close()
	host := hc.Host
	if host == "" {
		host = addr
	}
	if hc.GRPC {
		return probeGRPC(ctx, cc, scheme+"://"+host, hc.GRPCService)
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

// probeGRPC calls grpc.health.v1.Health/Check for service (the message is
// encoded by hand: one string field) and passes when the call succeeds
// (grpc-status 0) with status SERVING.
func probeGRPC(ctx context.Context, cc *http.ClientConn, base, service string) error {
	msg := []byte{}
	if service != "" {
		msg = append(msg, 0x0a)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	body := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	body = append(body, msg...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/grpc.health.v1.Health/Check", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := cc.RoundTrip(req)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return err
	}
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" {
		st = resp.Header.Get("Grpc-Status") // trailers-only
	}
	if resp.StatusCode != 200 || st != "0" {
		return fmt.Errorf("%w: HTTP %d, grpc-status %q", errStatus, resp.StatusCode, st)
	}
	// HealthCheckResponse: field 1 (status) varint; SERVING is 1.
	if len(b) < 5 || !bytes.Equal(b[5:], []byte{0x08, 0x01}) {
		return fmt.Errorf("%w: not SERVING", errStatus)
	}
	return nil
}
