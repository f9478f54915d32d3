package engine

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkBasicFlood measures what clients sending wrong Basic passwords
// do to everyone else on their loop: one loop, an htpasswd entry at bcrypt
// cost 10 (htpasswd -B's default), spam connections each sending a new
// wrong password as soon as the previous one is answered, and one client
// timing b.N requests with a cached credential on the same loop. It
// reports that client's latency percentiles and the spam rate answered.
//
//	go test -run '^$' -bench BasicFlood -benchtime 200x ./engine
func BenchmarkBasicFlood(b *testing.B) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), 10)
	file := filepath.Join(b.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, spammers := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("spammers=%d", spammers), func(b *testing.B) {
			cfg := testConfig(b, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /*p
    upstream: app
    auth:
      basic: {htpasswd_file: %s}
`, allocFreeUpstream(b), file))
			cfg.Workers = 1
			cfg.Timeouts.ClientIdle = time.Minute
			srv := startServer(b, cfg)
			good := "GET /bench HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic " +
				base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + "\r\n\r\n"
			c, br := floodConn(b, srv)
			floodRoundTrip(b, c, br, good, 200) // verified once, cached from here

			stop := make(chan struct{})
			var wg sync.WaitGroup
			var spam atomic.Int64
			for i := range spammers {
				sc, sbr := floodConn(b, srv)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						bad := fmt.Sprintf("alice:wrong-%d-%d", i, n) // new each time: no failure-cache hit
						req := "GET /bench HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic " +
							base64.StdEncoding.EncodeToString([]byte(bad)) + "\r\n\r\n"
						if _, err := io.WriteString(sc, req); err != nil {
							return
						}
						resp, err := http.ReadResponse(sbr, nil)
						if err != nil {
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						spam.Add(1)
					}
				}()
			}
			time.Sleep(200 * time.Millisecond) // let the flood start
			spam.Store(0)
			lat := make([]time.Duration, 0, b.N)
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				floodRoundTrip(b, c, br, good, 200)
				lat = append(lat, time.Since(t0))
				time.Sleep(2 * time.Millisecond) // an independent client, not a tight loop
			}
			b.StopTimer()
			elapsed := time.Since(start)
			close(stop)
			_ = srv.Close() // ends the spammers' reads
			wg.Wait()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(pct(0.5), "p50-µs")
			b.ReportMetric(pct(0.9), "p90-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(spam.Load())/elapsed.Seconds(), "spam-req/s")
		})
	}
}

func floodConn(b *testing.B, srv *Server) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func floodRoundTrip(b *testing.B, c net.Conn, br *bufio.Reader, req string, status int) {
	if _, err := io.WriteString(c, req); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != status {
		b.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
}
