package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rawCodec carries messages as bytes, so the tests need no generated code.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return proto.Marshal(v.(proto.Message)) // the health service's messages
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if b, ok := v.(*[]byte); ok {
		*b = append([]byte(nil), data...)
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "raw" }

// echoService is a gRPC service in every streaming mode.
type echoService struct {
	name     string
	canceled chan string // a handler whose context ended before it finished
}

func (e *echoService) desc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "test.Echo",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			md, _ := metadata.FromIncomingContext(ctx)
			_ = grpc.SetHeader(ctx, metadata.Pairs("x-endpoint", e.name, "x-echo-bin", strings.Join(md.Get("x-in-bin"), ",")))
			_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t1", "x-trailer-bin", string([]byte{0, 1, 2, 255})))
			switch string(in) {
			case "fail":
				return nil, status.Error(codes.NotFound, "no such thing: ünïcode")
			case "sleep":
				select {
				case <-ctx.Done():
					e.canceled <- "sleep"
					return nil, ctx.Err()
				case <-time.After(5 * time.Second):
				}
			}
			out := append([]byte(e.name+":"), in...)
			return &out, nil
		}}},
		Streams: []grpc.StreamDesc{
			{StreamName: "Server", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
				var in []byte
				if err := st.RecvMsg(&in); err != nil {
					return err
				}
				var n int
				fmt.Sscan(string(in), &n)
				for i := range n {
					m := []byte(fmt.Sprint(i))
					if err := st.SendMsg(&m); err != nil {
						return err
					}
				}
				st.SetTrailer(metadata.Pairs("x-sent", fmt.Sprint(n)))
				return nil
			}},
			{StreamName: "Client", ClientStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
				n, total := 0, 0
				for {
					var in []byte
					err := st.RecvMsg(&in)
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
					n++
					total += len(in)
				}
				out := []byte(fmt.Sprintf("%d/%d", n, total))
				return st.SendMsg(&out)
			}},
			{StreamName: "Bidi", ServerStreams: true, ClientStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
				for {
					var in []byte
					err := st.RecvMsg(&in)
					if err == io.EOF {
						return nil
					}
					if err != nil {
						select {
						case e.canceled <- "bidi":
						default:
						}
						return err
					}
					if err := st.SendMsg(&in); err != nil {
						return err
					}
				}
			}},
		},
	}
}

// grpcUpstream is a grpc-go server with the echo and health services.
type grpcUpstream struct {
	addr   string
	svc    *echoService
	srv    *grpc.Server
	health *health.Server
	conns  atomic.Int64
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func newGRPCUpstream(t *testing.T, name string) *grpcUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcUpstream{addr: ln.Addr().String(), svc: &echoService{name: name, canceled: make(chan string, 8)}}
	g.srv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.MaxRecvMsgSize(16<<20), grpc.MaxSendMsgSize(16<<20))
	g.srv.RegisterService(g.svc.desc(), struct{}{})
	g.health = health.NewServer()
	healthpb.RegisterHealthServer(g.srv, g.health)
	done := make(chan struct{})
	go func() { defer close(done); _ = g.srv.Serve(countingListener{ln, &g.conns}) }()
	t.Cleanup(func() {
		g.srv.Stop()
		<-done
	})
	return g
}

func grpcGateway(t *testing.T, extra string, addrs ...string) *Server {
	t.Helper()
	cfg := testConfig(t, h2cProxyTo(addrs...)+extra)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	return startServer(t, cfg)
}

func grpcDial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

var (
	serverDesc = &grpc.StreamDesc{StreamName: "Server", ServerStreams: true}
	clientDesc = &grpc.StreamDesc{StreamName: "Client", ClientStreams: true}
	bidiDesc   = &grpc.StreamDesc{StreamName: "Bidi", ServerStreams: true, ClientStreams: true}
)

// TestGRPCThroughTheGateway: real grpc-go clients and servers through the
// gateway, every streaming mode, metadata and trailers both ways (binary
// ones included), status errors, 4 MiB messages, a 10 000-message
// bidirectional stream.
func TestGRPCThroughTheGateway(t *testing.T) {
	up := newGRPCUpstream(t, "a")
	srv := grpcGateway(t, "", up.addr)
	cc := grpcDial(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Unary, metadata both ways.
	in, out := []byte("ping"), []byte(nil)
	var hdr, trl metadata.MD
	mctx := metadata.AppendToOutgoingContext(ctx, "x-in-bin", string([]byte{9, 0, 200}))
	if err := cc.Invoke(mctx, "/test.Echo/Unary", &in, &out, grpc.Header(&hdr), grpc.Trailer(&trl)); err != nil {
		t.Fatal(err)
	}
	if string(out) != "a:ping" || hdr.Get("x-endpoint")[0] != "a" || hdr.Get("x-echo-bin")[0] != string([]byte{9, 0, 200}) {
		t.Fatalf("unary: %q, header %v", out, hdr)
	}
	if trl.Get("x-trailer")[0] != "t1" || trl.Get("x-trailer-bin")[0] != string([]byte{0, 1, 2, 255}) {
		t.Fatalf("trailers: %v", trl)
	}

	// A status error with its message, through the trailers.
	in = []byte("fail")
	err := cc.Invoke(ctx, "/test.Echo/Unary", &in, &out)
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "no such thing: ünïcode" {
		t.Fatalf("error status: %v", err)
	}

	// 4 MiB both ways.
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<16)
	if err := cc.Invoke(ctx, "/test.Echo/Unary", &big, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, append([]byte("a:"), big...)) {
		t.Fatalf("4 MiB: got %d bytes", len(out))
	}

	// Server streaming.
	st, err := cc.NewStream(ctx, serverDesc, "/test.Echo/Server")
	if err != nil {
		t.Fatal(err)
	}
	n := []byte("100")
	if err := st.SendMsg(&n); err != nil {
		t.Fatal(err)
	}
	_ = st.CloseSend()
	for i := 0; ; i++ {
		var m []byte
		err := st.RecvMsg(&m)
		if err == io.EOF {
			if i != 100 || st.Trailer().Get("x-sent")[0] != "100" {
				t.Fatalf("server stream: %d messages, trailer %v", i, st.Trailer())
			}
			break
		}
		if err != nil || string(m) != fmt.Sprint(i) {
			t.Fatalf("server stream message %d: %q %v", i, m, err)
		}
	}

	// Client streaming.
	st, err = cc.NewStream(ctx, clientDesc, "/test.Echo/Client")
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		m := []byte("0123456789")
		if err := st.SendMsg(&m); err != nil {
			t.Fatal(err)
		}
	}
	_ = st.CloseSend()
	var res []byte
	if err := st.RecvMsg(&res); err != nil || string(res) != "50/500" {
		t.Fatalf("client stream: %q %v", res, err)
	}

	// Bidirectional, 10 000 messages, sending and receiving at once.
	st, err = cc.NewStream(ctx, bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	const msgs = 10000
	sendErr := make(chan error, 1)
	go func() {
		for i := range msgs {
			m := []byte(fmt.Sprintf("m%d", i))
			if err := st.SendMsg(&m); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- st.CloseSend()
	}()
	for i := range msgs {
		var m []byte
		if err := st.RecvMsg(&m); err != nil || string(m) != fmt.Sprintf("m%d", i) {
			t.Fatalf("bidi message %d: %q %v", i, m, err)
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	var m []byte
	if err := st.RecvMsg(&m); err != io.EOF {
		t.Fatalf("bidi end: %v", err)
	}
	if up.conns.Load() > 2 {
		t.Fatalf("%d upstream connections", up.conns.Load())
	}
}

// TestGRPCGatewayErrors: what the gateway answers itself reaches gRPC
// clients as statuses; gRPC over HTTP/1.1 is refused with a reason.
func TestGRPCGatewayErrors(t *testing.T) {
	up := newGRPCUpstream(t, "a")
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	extra := fmt.Sprintf(`  - name: down
    protocol: h2c
    endpoints: [{address: %s}]
`, deadAddr)
	body := h2cProxyTo(up.addr)
	body = strings.Replace(body, "routes:\n  - path: /*path\n", extra+"routes:\n  - path: /test.Down/*m\n    upstream: down\n  - path: /test.Echo/*m\n", 1)
	cfg := testConfig(t, body)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	srv := startServer(t, cfg)
	cc := grpcDial(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, out := []byte("x"), []byte(nil)
	for _, tc := range []struct {
		method string
		want   codes.Code
	}{
		{"/test.Nothing/Here", codes.Unimplemented},
		{"/test.Down/Call", codes.Unavailable},
	} {
		err := cc.Invoke(ctx, tc.method, &in, &out)
		if st, _ := status.FromError(err); st.Code() != tc.want || !strings.Contains(st.Message(), "hotpath") {
			t.Errorf("%s: %v, want %v from the gateway", tc.method, err, tc.want)
		}
	}

	// Deadline: grpc-timeout ends the call at the gateway as well as at the
	// client; the upstream's handler sees its context end.
	in = []byte("sleep")
	dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := cc.Invoke(dctx, "/test.Echo/Unary", &in, &out)
	dcancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
	select {
	case <-up.svc.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream call was not canceled past its deadline")
	}

	// Over HTTP/1.1: a clear refusal.
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/test.Echo/Unary", strings.NewReader("\x00\x00\x00\x00\x01x"))
	req.Header.Set("Content-Type", "application/grpc")
	resp, err := httpClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 415 || !strings.Contains(string(b), "gRPC needs HTTP/2") {
		t.Fatalf("gRPC over HTTP/1.1: %d %q", resp.StatusCode, b)
	}
}

// TestGRPCCancellation: a client that cancels a stream cancels the
// upstream's; an upstream killed mid-stream fails the client's call.
func TestGRPCCancellation(t *testing.T) {
	up := newGRPCUpstream(t, "a")
	srv := grpcGateway(t, "", up.addr)
	cc := grpcDial(t, srv.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	st, err := cc.NewStream(ctx, bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	m := []byte("hi")
	if err := st.SendMsg(&m); err != nil {
		t.Fatal(err)
	}
	if err := st.RecvMsg(&m); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-up.svc.canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream stream was not canceled when the client canceled")
	}

	st, err = cc.NewStream(context.Background(), bidiDesc, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SendMsg(&m); err != nil {
		t.Fatal(err)
	}
	if err := st.RecvMsg(&m); err != nil {
		t.Fatal(err)
	}
	up.srv.Stop() // the upstream dies mid-stream
	err = st.RecvMsg(&m)
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("after the upstream died: %v", err)
	}
}

// TestGRPCBalancing: calls are spread over the endpoints.
func TestGRPCBalancing(t *testing.T) {
	a, b := newGRPCUpstream(t, "a"), newGRPCUpstream(t, "b")
	srv := grpcGateway(t, "", a.addr, b.addr)
	cc := grpcDial(t, srv.Addr())
	seen := map[string]int{}
	for range 20 {
		in, out := []byte("x"), []byte(nil)
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", &in, &out); err != nil {
			t.Fatal(err)
		}
		seen[string(out)]++
	}
	if seen["a:x"] == 0 || seen["b:x"] == 0 {
		t.Fatalf("calls per endpoint: %v", seen)
	}
}

func TestParseGRPCTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{in: "1S", want: time.Second, ok: true},
		{in: "250m", want: 250 * time.Millisecond, ok: true},
		{in: "99999999n", want: 99999999, ok: true},
		{in: "2H", want: 2 * time.Hour, ok: true},
		{in: "S", ok: false},
		{in: "123456789S", ok: false},
		{in: "1x", ok: false},
		{in: "-1S", ok: false},
	} {
		got, ok := parseGRPCTimeout([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%q: %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct{ status, code int }{
		{status: 401, code: grpcUnauthenticated}, {status: 403, code: grpcPermissionDenied},
		{status: 404, code: grpcUnimplemented}, {status: 429, code: grpcResourceExhausted},
		{status: 502, code: grpcUnavailable}, {status: 503, code: grpcUnavailable},
		{status: 504, code: grpcDeadlineExceeded}, {status: 418, code: grpcUnknown},
	} {
		if got := grpcCode(tc.status); got != tc.code {
			t.Errorf("grpcCode(%d) = %d, want %d", tc.status, got, tc.code)
		}
	}
}

// TestGRPCHealthCheck: health.active.grpc checks endpoints with the gRPC
// health protocol: the one NOT_SERVING gets no calls.
func TestGRPCHealthCheck(t *testing.T) {
	a, b := newGRPCUpstream(t, "a"), newGRPCUpstream(t, "b")
	b.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	extra := `    health:
      active: {grpc: {}, interval: 50ms, timeout: 40ms, healthy_threshold: 1, unhealthy_threshold: 1}
`
	body := strings.Replace(h2cProxyTo(a.addr, b.addr), "routes:", extra+"routes:", 1)
	cfg := testConfig(t, body)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	srv := startServer(t, cfg)
	cc := grpcDial(t, srv.Addr())
	call := func() string {
		in, out := []byte("x"), []byte(nil)
		if err := cc.Invoke(context.Background(), "/test.Echo/Unary", &in, &out); err != nil {
			return err.Error()
		}
		return string(out)
	}
	eventually(t, 5*time.Second, func() bool {
		for range 10 {
			if call() != "a:x" {
				return false
			}
		}
		return true
	}, "the NOT_SERVING endpoint still gets calls")
	b.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	eventually(t, 5*time.Second, func() bool { return call() == "b:x" }, "the endpoint back to SERVING gets no calls")
}

// TestGRPCOnlyRoute: a route with protocol grpc serves gRPC calls and
// refuses anything else with 415.
func TestGRPCOnlyRoute(t *testing.T) {
	up := newGRPCUpstream(t, "a")
	body := strings.Replace(h2cProxyTo(up.addr), "    upstream: app\n", "    upstream: app\n    protocol: grpc\n", 1)
	cfg := testConfig(t, body)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	srv := startServer(t, cfg)
	in, out := []byte("x"), []byte(nil)
	if err := grpcDial(t, srv.Addr()).Invoke(context.Background(), "/test.Echo/Unary", &in, &out); err != nil || string(out) != "a:x" {
		t.Fatalf("gRPC call: %q %v", out, err)
	}
	resp, err := h2cClient(t).Get("http://" + srv.Addr() + "/test.Echo/Unary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("plain GET on a gRPC route: %d, want 415", resp.StatusCode)
	}
}

// TestGRPCMetrics: hotpath_grpc_calls_total counts calls per service,
// method and grpc-status: the upstream's (in trailers or trailers-only) and
// the gateway's own.
func TestGRPCMetrics(t *testing.T) {
	up := newGRPCUpstream(t, "a")
	body := strings.Replace(h2cProxyTo(up.addr), "path: /*path", "path: /test.Echo/*m", 1)
	cfg := testConfig(t, body)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	srv := startServer(t, cfg)
	cc := grpcDial(t, srv.Addr())
	call := func(method, msg string) {
		in, out := []byte(msg), []byte(nil)
		_ = cc.Invoke(context.Background(), method, &in, &out)
	}
	for range 3 {
		call("/test.Echo/Unary", "x")
	}
	call("/test.Echo/Unary", "fail")
	call("/test.Other/Call", "x") // no route: the gateway's UNIMPLEMENTED
	waitMetrics(t, srv, []metricWant{
		{"hotpath_grpc_calls_total", []string{"grpc_service", "test.Echo", "grpc_method", "Unary", "grpc_code", "OK"}, 3},
		{"hotpath_grpc_calls_total", []string{"grpc_service", "test.Echo", "grpc_method", "Unary", "grpc_code", "NOT_FOUND"}, 1},
		{"hotpath_grpc_calls_total", []string{"grpc_service", "test.Other", "grpc_method", "Call", "grpc_code", "UNIMPLEMENTED"}, 1},
	})
}

// TestGRPCTimeoutAtTheGateway: grpc-timeout is enforced by the gateway
// itself, against an upstream that ignores it: the client, which sets no
// deadline of its own, gets DEADLINE_EXCEEDED as a trailers-only answer.
func TestGRPCTimeoutAtTheGateway(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select { // ignores grpc-timeout
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := testConfig(t, h2cProxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	cfg.Timeouts.UpstreamHeader = time.Minute // far beyond: only grpc-timeout can end the call soon
	cfg.Timeouts.UpstreamRead = time.Minute
	srv := startServer(t, cfg)
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/test.Slow/Call", bytes.NewReader([]byte{0, 0, 0, 0, 0}))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("Grpc-Timeout", "200m")
	start := time.Now()
	resp, err := h2cClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	st := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
	if resp.StatusCode != 200 || st != "4" || !strings.Contains(resp.Header.Get("Grpc-Message"), "hotpath") {
		t.Fatalf("after grpc-timeout: HTTP %d grpc-status %q %q", resp.StatusCode, st, resp.Header.Get("Grpc-Message"))
	}
	if e := time.Since(start); e > 15*time.Second {
		t.Fatalf("answered after %v: not by grpc-timeout (200 ms)", e)
	}
}
