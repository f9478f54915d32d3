// Command grpcstream measures messages per second through one
// bidirectional gRPC stream (issue 14's grpc_stream): a grpc-go echo
// server, and a client that keeps -window messages in flight on one
// stream for -d and prints the messages it got back per second.
//
//	grpcstream -serve 127.0.0.1:21200 &
//	grpcstream -addr 127.0.0.1:8080 -d 5s    # through the proxy under test
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rawCodec carries messages as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(d []byte, v any) error {
	b := v.(*[]byte)
	*b = append([]byte(nil), d...) // a new slice: grpc may still be sending the last one
	return nil
}
func (rawCodec) Name() string { return "raw" }

var desc = grpc.ServiceDesc{ServiceName: "bench.Stream", HandlerType: (*any)(nil), Streams: []grpc.StreamDesc{{
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

func main() {
	serve := flag.String("serve", "", "run the echo server on this address")
	addr := flag.String("addr", "", "measure through this address")
	d := flag.Duration("d", 5*time.Second, "how long to measure")
	window := flag.Int("window", 100, "messages in flight")
	size := flag.Int("size", 32, "message size in bytes")
	flag.Parse()
	if err := run(*serve, *addr, *d, *window, *size); err != nil {
		fmt.Fprintln(os.Stderr, "grpcstream:", err)
		os.Exit(1)
	}
}

func run(serve, addr string, d time.Duration, window, size int) error {
	if serve != "" {
		ln, err := net.Listen("tcp", serve)
		if err != nil {
			return err
		}
		s := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}))
		s.RegisterService(&desc, struct{}{})
		return s.Serve(ln)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/bench.Stream/Bidi")
	if err != nil {
		return err
	}
	msg := make([]byte, size)
	for range window {
		if err := st.SendMsg(&msg); err != nil {
			return err
		}
	}
	n := 0
	start := time.Now()
	var in []byte
	for time.Since(start) < d {
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		n++
		if err := st.SendMsg(&msg); err != nil {
			return err
		}
	}
	fmt.Printf("%d messages in %v: %.0f messages/s\n", n, d, float64(n)/time.Since(start).Seconds())
	return nil
}
