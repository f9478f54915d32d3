package tlsloop

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"time"
)

// Info describes an established connection. It is computed once, off the
// loop, when the handshake completes: reading it costs nothing.
type Info struct {
	Version     uint16      // tls.VersionTLS12 or tls.VersionTLS13
	CipherSuite uint16      // tls.TLS_AES_128_GCM_SHA256, ...
	Curve       tls.CurveID // the key exchange group (tls.X25519, ...)
	ALPN        string      // the negotiated protocol ("http/1.1", "h2"), "" when none
	ServerName  string      // the SNI the client sent, "" when none
	Resumed     bool        // the session was resumed (a ticket): no certificate, no signature
	// Peer is the certificate the other side presented: on a Server's
	// Conn, the client's, verified against the client CA (mTLS); nil
	// when the client sent none (client_auth optional) or none was asked.
	// On a Client's Conn, the upstream's.
	Peer *Peer
	// HandshakeTime is the handshake's duration from its first byte,
	// waiting for the peer's flights and for a worker slot included.
	HandshakeTime time.Duration
}

// Peer is a certificate presented in a handshake, with the identity
// fields a gateway passes upstream already rendered. The strings are safe
// in a header value: control bytes are escaped as \xHH.
type Peer struct {
	// Subject is the subject's distinguished name in RFC 2253 form
	// ("CN=alice,OU=eng,O=Example"), as nginx's $ssl_client_s_dn.
	Subject string
	// SANs lists the subject alternative names, comma-separated:
	// "DNS:a.example,URI:spiffe://example/alice,email:a@example,IP:10.0.0.1"
	// (a comma inside a name is escaped as \x2c).
	SANs string
	// Verified is true when the certificate was verified against the
	// configured CAs: always for a Server's client certificate (an
	// unverifiable one fails the handshake); false for a Client with
	// InsecureSkipVerify.
	Verified bool
	// Certificate is the leaf, parsed.
	Certificate *x509.Certificate
}

func infoOf(cs tls.ConnectionState, took time.Duration) Info {
	in := Info{
		Version:       cs.Version,
		CipherSuite:   cs.CipherSuite,
		Curve:         cs.CurveID,
		ALPN:          cs.NegotiatedProtocol,
		ServerName:    cs.ServerName,
		Resumed:       cs.DidResume,
		HandshakeTime: took,
	}
	if len(cs.PeerCertificates) > 0 {
		in.Peer = peerOf(cs.PeerCertificates[0], len(cs.VerifiedChains) > 0)
	}
	return in
}

func peerOf(leaf *x509.Certificate, verified bool) *Peer {
	var sans []string
	for _, n := range leaf.DNSNames {
		sans = append(sans, "DNS:"+n)
	}
	for _, u := range leaf.URIs {
		sans = append(sans, "URI:"+u.String())
	}
	for _, e := range leaf.EmailAddresses {
		sans = append(sans, "email:"+e)
	}
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, "IP:"+ip.String())
	}
	for i, s := range sans {
		sans[i] = headerSafe(s, true)
	}
	return &Peer{
		Subject:     headerSafe(leaf.Subject.String(), false),
		SANs:        strings.Join(sans, ","),
		Verified:    verified,
		Certificate: leaf,
	}
}

// headerSafe escapes the bytes of s that may not appear in a header field
// value (controls and DEL; commas too when comma, since SANs joins with
// them) as \xHH.
func headerSafe(s string, comma bool) string {
	const hex = "0123456789abcdef"
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || (comma && c == ',') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || (comma && c == ',') {
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
