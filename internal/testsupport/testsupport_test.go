package testsupport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/echoserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, FasthttpLeaks()...) }

// TestUpstreamCountsAndScrape: an Upstream counts its connection and
// requests; Do and Scrape read what it serves; Sample finds a series by
// labels; Eventually returns once the condition holds.
func TestUpstreamCountsAndScrape(t *testing.T) {
	u := NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP x_total x\n# TYPE x_total counter\nx_total{route=\"a\",code=\"2xx\"} 3\nx_total{route=\"b\",code=\"2xx\"} 4\ny 1.5\n")
	}))
	code, _, body := Do(t, "GET", "http://"+u.Addr+"/metrics")
	if code != 200 || !strings.Contains(body, "x_total") {
		t.Fatalf("Do: %d %q", code, body)
	}
	ss := Scrape(t, "http://"+u.Addr+"/metrics")
	if got := Sample(ss, "x_total", "route", "b"); got != 4 {
		t.Errorf("x_total{route=b} = %v, want 4", got)
	}
	if got := Sample(ss, "y"); got != 1.5 {
		t.Errorf("y = %v, want 1.5", got)
	}
	if got := Sample(ss, "x_total", "route", "c"); got != -1 {
		t.Errorf("absent series = %v, want -1", got)
	}
	Eventually(t, 10*time.Second, "two requests counted", func() bool { return u.Reqs.Load() == 2 })
	if u.Conns.Load() < 1 {
		t.Errorf("conns %d", u.Conns.Load())
	}
}

// TestStartEcho: hotecho's server answers at the returned URL.
func TestStartEcho(t *testing.T) {
	url, _ := StartEcho(t, echoserver.Config{})
	if code, _, _ := Do(t, "GET", url); code != 200 {
		t.Fatalf("GET %s = %d", url, code)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestRefusingAddr(t *testing.T) {
	addr := RefusingAddr(t)
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			t.Fatalf("connected to %s", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
}
