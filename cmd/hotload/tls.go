package main

import (
	"flag"
	"strings"

	"github.com/hotpath/hotpath/loadgen"
)

// tlsFlags are the flags of https:// targets (loadgen.TLS).
type tlsFlags struct {
	insecure, resume                  bool
	sni, caFile, alpn, version, curve string
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.StringVar(&f.sni, "sni", "", "https: the server name sent and verified (default: the URL's host)")
	fs.StringVar(&f.caFile, "cacert", "", "https: verify the server against the CAs in this PEM file (default: the system roots)")
	fs.StringVar(&f.alpn, "alpn", "", "https: ALPN protocols offered, comma-separated (default http/1.1)")
	fs.StringVar(&f.version, "tls-version", "", "https: 1.2 or 1.3 only (default: both)")
	fs.StringVar(&f.curve, "tls-curves", "", "https: key exchange groups offered, comma-separated: x25519, p256, p384, p521, x25519mlkem768 (default Go's)")
	fs.BoolVar(&f.resume, "tls-resume", false, "https: resume sessions with tickets; with --no-keepalive every handshake after the first resumes")
}

// config returns the TLS options the flags ask for, nil when none is set
// (an https:// URL then takes the defaults).
func (f *tlsFlags) config() *loadgen.TLS {
	if *f == (tlsFlags{}) {
		return nil
	}
	t := &loadgen.TLS{Insecure: f.insecure, ServerName: f.sni, CAFile: f.caFile, Version: f.version, Resume: f.resume}
	if f.alpn != "" {
		t.ALPN = strings.Split(f.alpn, ",")
	}
	if f.curve != "" {
		t.Curves = strings.Split(f.curve, ",")
	}
	return t
}
