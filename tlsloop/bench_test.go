package tlsloop_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// The record layer's cost per response, tlsloop against crypto/tls on a
// net.Conn. One op: the server writes a response of the case's size, the
// client reads all of it. tlsloop runs both ends on one goroutine in
// memory (what an event loop does, minus the socket's syscalls);
// crypto/tls runs over net.Pipe (no kernel, a goroutine hand-off per
// write) and over loopback TCP (the kernel's copies and syscalls).
var recordCases = []struct {
	name string
	size int
}{
	{name: "small", size: 120}, // a short response: head and "Hello, world!"
	{name: "16KiB", size: 16 << 10},
	{name: "64KiB", size: 64 << 10},
}

// loopPair is an established tlsloop pair and the buffer that carries
// ciphertext between them.
type loopPair struct {
	server, client *tlsloop.Conn
	wire           bytes.Buffer
}

func newLoopPair(t testing.TB) *loopPair {
	server, client := testPair(t, tlsloop.ServerOptions{CurvePreferences: []tls.CurveID{tls.X25519}}, tlsloop.ClientOptions{})
	return &loopPair{server: server, client: client}
}

// respond sends resp from the server and reads it at the client.
func (p *loopPair) respond(tb testing.TB, resp []byte) {
	if _, err := p.server.Write(resp); err != nil {
		tb.Fatal(err)
	}
	p.wire.Reset()
	_ = p.server.Flush(&p.wire)
	if _, err := p.client.Feed(p.wire.Bytes()); err != nil {
		tb.Fatal(err)
	}
	if n, _ := p.client.Discard(-1); n != len(resp) {
		tb.Fatalf("client got %d bytes, want %d", n, len(resp))
	}
}

func BenchmarkRecord(b *testing.B) {
	for _, c := range recordCases {
		resp := bytes.Repeat([]byte("x"), c.size)
		b.Run(c.name+"/tlsloop", func(b *testing.B) {
			p := newLoopPair(b)
			p.respond(b, resp) // grow the buffers
			b.ReportAllocs()
			b.SetBytes(int64(c.size))
			cpu0 := cpuTime()
			for b.Loop() {
				p.respond(b, resp)
			}
			reportCPU(b, cpu0)
		})
		b.Run(c.name+"/cryptotls-pipe", func(b *testing.B) {
			a, z := net.Pipe()
			benchConnTLS(b, a, z, resp)
		})
		b.Run(c.name+"/cryptotls-tcp", func(b *testing.B) {
			a, z := tcpPair(b)
			benchConnTLS(b, a, z, resp)
		})
	}
}

// benchConnTLS measures crypto/tls over the connected pair (a server, z
// client): a goroutine writes resp b.N times, the benchmark reads them.
func benchConnTLS(b *testing.B, a, z net.Conn, resp []byte) {
	p := newPKI(b, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		b.Fatal(err)
	}
	server := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{pair}, CurvePreferences: []tls.CurveID{tls.X25519}})
	client := tls.Client(z, &tls.Config{ServerName: "s.example.test", RootCAs: p.pool()})
	defer server.Close()
	defer client.Close()
	next := make(chan bool)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for <-next {
			if _, err := server.Write(resp); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, len(resp))
	round := func() {
		next <- true
		if _, err := io.ReadFull(client, buf); err != nil {
			b.Fatal(err)
		}
	}
	round() // the handshake, and buffers grown
	b.ReportAllocs()
	b.SetBytes(int64(len(resp)))
	cpu0 := cpuTime()
	for b.Loop() {
		round()
	}
	reportCPU(b, cpu0)
	b.StopTimer()
	close(next)
	<-done
}

func tcpPair(b *testing.B) (server, client net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return server, client
}

// BenchmarkCopy is the price of one of the extra copies tlsloop makes per
// direction (the socket's buffer into crypto/tls's, crypto/tls's record
// into the output), for comparison with BenchmarkRecord.
func BenchmarkCopy(b *testing.B) {
	for _, c := range recordCases {
		src, dst := make([]byte, c.size), make([]byte, c.size)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(c.size))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// BenchmarkHandshake is a full handshake (ECDSA P-256, X25519), and a
// resumed one, through tlsloop in memory: the CPU a handshake goroutine
// spends, both sides included.
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	sc, err := tlsloop.LoadServer(tlsloop.ServerOptions{Certificates: []tlsloop.CertFile{{CertFile: cert, KeyFile: key}},
		CurvePreferences: []tls.CurveID{tls.X25519}}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv := tlsloop.NewServer(sc)
	for _, resume := range []bool{false, true} {
		name := "full"
		if resume {
			name = "resumed"
		}
		b.Run(name, func(b *testing.B) {
			cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{CAFile: p.caFile, DisableResumption: !resume,
				CurvePreferences: []tls.CurveID{tls.X25519}})
			if err != nil {
				b.Fatal(err)
			}
			prime := func() {
				s, c := memPair(b, srv, cl, "s.example.test")
				(&loopPair{server: s, client: c}).respond(b, []byte("ticket"))
				s.Close()
				c.Close()
			}
			prime()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				prime()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			if st := cl.Stats(); resume != (st.Resumed > 0) {
				b.Fatalf("stats %+v", st)
			}
		})
	}
}

// reportCPU reports the process's CPU time per op since cpu0 (both ends,
// the kernel's share included): on a busy machine it says more about cost
// than ns/op, which counts the waits for a CPU too.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's CPU time (user and system) so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
