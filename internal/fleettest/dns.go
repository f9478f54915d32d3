package fleettest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNSServer is an in-process authoritative DNS server on a loopback UDP and
// TCP port, answering from records the test sets and changes.
type DNSServer struct {
	// Addr is the server's host:port.
	Addr string

	mu      sync.Mutex
	records map[string][]dns.RR // by "name type", name lower case and fully qualified
	fail    bool
	queries int
}

// DNS starts a DNSServer; it stops when the test ends.
func DNS(t testing.TB) *DNSServer {
	t.Helper()
	s := &DNSServer{records: map[string][]dns.RR{}}
	// UDP and TCP on one port number: the kernel picks a free UDP port,
	// whose TCP twin another test may hold; then try again.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		s.Addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	var wg sync.WaitGroup
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() { defer wg.Done(); _ = srv.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
		wg.Wait()
	})
	return s
}

// Set replaces the records of one name and type with rrs, given in zone
// file syntax ("api.internal. 5 IN A 127.0.0.1"); none removes them.
func (s *DNSServer) Set(t testing.TB, name string, typ uint16, rrs ...string) {
	t.Helper()
	var parsed []dns.RR
	for _, r := range rrs {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[key(name, typ)] = parsed
}

// Fail makes the server answer SERVFAIL (true) or normally (false).
func (s *DNSServer) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = on
}

// Queries returns how many queries the server answered.
func (s *DNSServer) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func key(name string, typ uint16) string {
	return strings.ToLower(dns.Fqdn(name)) + " " + dns.TypeToString[typ]
}

// ServeDNS implements dns.Handler.
func (s *DNSServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	s.queries++
	if s.fail {
		m.Rcode = dns.RcodeServerFailure
	} else if len(req.Question) == 1 {
		q := req.Question[0]
		m.Answer = append(m.Answer, s.records[key(q.Name, q.Qtype)]...)
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}
