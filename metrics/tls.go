package metrics

import "github.com/prometheus/client_golang/prometheus"

// TLSStats are the handshake counters of one TLS listener or one TLS
// upstream (package tlsloop's Stats).
type TLSStats struct {
	Side string // "listener" (its address) or "upstream" (its name)
	Name string

	Full     uint64 // completed with a certificate and a key exchange
	Resumed  uint64 // completed by resuming a session (a ticket)
	Failed   uint64 // failed: bad input, alerts, no common parameters, timeouts
	TimedOut uint64 // failed by the handshake timeout (also in Failed)
	Refused  uint64 // refused: max_handshakes were in progress
	InFlight int64  // in progress now
}

type tlsDescs struct {
	handshakes, timeouts, inFlight *prometheus.Desc
}

func newTLSDescs() tlsDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("hotpath_"+name, help, labels, nil)
	}
	return tlsDescs{
		handshakes: d("tls_handshakes_total", "TLS handshakes by result: full, resumed (a session ticket), failed, refused (max_handshakes in progress); side listener (name: its address) or upstream (its name).", "side", "name", "result"),
		timeouts:   d("tls_handshake_timeouts_total", "TLS handshakes that failed by the handshake timeout (also counted as failed).", "side", "name"),
		inFlight:   d("tls_handshakes_in_progress", "TLS handshakes in progress now.", "side", "name"),
	}
}

func (c *Collector) describeTLS(ch chan<- *prometheus.Desc) {
	if c.opts.TLS == nil {
		return
	}
	ch <- c.desc.tls.handshakes
	ch <- c.desc.tls.timeouts
	ch <- c.desc.tls.inFlight
}

func (c *Collector) collectTLS(ch chan<- prometheus.Metric) {
	if c.opts.TLS == nil {
		return
	}
	d := &c.desc.tls
	for _, s := range c.opts.TLS() {
		hs := func(v uint64, result string) {
			ch <- prometheus.MustNewConstMetric(d.handshakes, prometheus.CounterValue, float64(v), s.Side, s.Name, result)
		}
		hs(s.Full, "full")
		hs(s.Resumed, "resumed")
		hs(s.Failed, "failed")
		hs(s.Refused, "refused")
		ch <- prometheus.MustNewConstMetric(d.timeouts, prometheus.CounterValue, float64(s.TimedOut), s.Side, s.Name)
		ch <- prometheus.MustNewConstMetric(d.inFlight, prometheus.GaugeValue, float64(s.InFlight), s.Side, s.Name)
	}
}
