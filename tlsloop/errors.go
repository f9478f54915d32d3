package tlsloop

import (
	"errors"
	"strconv"
)

// Errors a Conn returns. They are values: compare with errors.Is.
var (
	// ErrBusy: MaxInFlight handshakes are running already; the
	// connection is refused (close it). Counted in Stats.Refused.
	ErrBusy = errors.New("tlsloop: too many handshakes in progress")
	// ErrHandshakeTimeout: the handshake did not complete within
	// HandshakeLimits.Timeout. Counted in Stats.TimedOut.
	ErrHandshakeTimeout = errors.New("tlsloop: handshake timed out")
	// ErrNotOpen: Write or Read before the handshake completed, or after
	// it failed or the Conn was closed.
	ErrNotOpen = errors.New("tlsloop: connection not established")
	// ErrClosed: the Conn was closed (Close) while its handshake ran.
	ErrClosed = errors.New("tlsloop: connection closed")
)

// wouldBlock is what the transport's Read returns in the data phase when
// the ciphertext fed so far is used up: a net.Error whose Temporary is
// true, which crypto/tls's readRecordOrCCS (conn.go) returns to the caller
// without making it the connection's sticky error, leaving a partial
// record in its input buffer for the next Read. A zero-size value converts
// to error without allocating.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsloop: no more ciphertext (would block)" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true }

// LoadError is a file that could not be used: unreadable, not PEM, a key
// that does not match its certificate, an expired certificate, ... Field
// names the option ("cert_file", "key_file", "client_ca_file", "ca_file")
// and Index the certificate in Certificates it belongs to (-1 for the CA
// files), so that a caller can point at the config field.
type LoadError struct {
	Field  string
	Index  int
	File   string
	Reason string
}

// Error formats the problem as "tlsloop: cert_file /path: reason"
// (with "certificates[i]." before the field when Index >= 0).
func (e *LoadError) Error() string {
	field := e.Field
	if e.Index >= 0 {
		field = "certificates[" + strconv.Itoa(e.Index) + "]." + field
	}
	return "tlsloop: " + field + " " + e.File + ": " + e.Reason
}

// LoadErrors is every problem found while loading options, in order.
type LoadErrors []*LoadError

func (es LoadErrors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}
