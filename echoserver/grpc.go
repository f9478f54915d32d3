package echoserver

import (
	"context"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// gRPC (Config.GRPC): grpc-go's server with its standard health service
// (grpc.health.v1.Health, every service SERVING), the upstream of the
// grpc_unary benchmark: the 5-byte empty HealthCheckRequest is the smallest
// real unary call; and StreamService, which echoes every message of a
// bidirectional stream, the upstream of grpc_stream (bench/cmd/grpcstream).

func newGRPC() *grpc.Server {
	g := grpc.NewServer(grpc.MaxConcurrentStreams(1000))
	healthpb.RegisterHealthServer(g, health.NewServer())
	g.RegisterService(&StreamService, struct{}{})
	return g
}

// RawCodec carries gRPC messages as the bytes they are (content-type
// application/grpc+raw): the benchmark's messages need no protobuf. It is
// registered with grpc-go under its name, so a server picks it for calls
// that ask for it and protobuf for the others.
type RawCodec struct{}

func init() { encoding.RegisterCodec(RawCodec{}) }

// Marshal takes a *[]byte.
func (RawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }

// Unmarshal sets a *[]byte to a new copy of d: grpc may reuse d, and may
// still be sending the slice *b held (Marshal hands it over uncopied).
func (RawCodec) Unmarshal(d []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), d...)
	return nil
}

// Name is the content-subtype.
func (RawCodec) Name() string { return "raw" }

// StreamMethod is the bidirectional echo stream's full method name.
const StreamMethod = "/bench.Stream/Bidi"

// StreamService echoes every message of a bidirectional stream (RawCodec)
// until the client ends it.
var StreamService = grpc.ServiceDesc{ServiceName: "bench.Stream", HandlerType: (*any)(nil), Streams: []grpc.StreamDesc{{
	StreamName: "Bidi", ServerStreams: true, ClientStreams: true,
	Handler: func(_ any, st grpc.ServerStream) error {
		var m []byte
		for {
			if err := st.RecvMsg(&m); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := st.SendMsg(&m); err != nil {
				return err
			}
		}
	},
}}}

func serveGRPC(g *grpc.Server, ln net.Listener) error {
	err := g.Serve(ln)
	if err == grpc.ErrServerStopped {
		return nil
	}
	return err
}

// shutdownGRPC stops gracefully, or at once when ctx ends first.
func shutdownGRPC(ctx context.Context, g *grpc.Server) error {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.Stop()
		return ctx.Err()
	}
}
