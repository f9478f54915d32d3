package echoserver

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// gRPC (Config.GRPC): grpc-go's server with its standard health service
// (grpc.health.v1.Health, every service SERVING), the upstream of the
// grpc_unary benchmark: the 5-byte empty HealthCheckRequest is the smallest
// real unary call.

func newGRPC() *grpc.Server {
	g := grpc.NewServer(grpc.MaxConcurrentStreams(1000))
	healthpb.RegisterHealthServer(g, health.NewServer())
	return g
}

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
