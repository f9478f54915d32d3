package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/tlsloop"
)

// TLS (issue 13): the listeners[].tls and upstreams[].tls sections become
// tlsloop options here, and their files are loaded by Check (hotpath
// -check). The engine does not serve TLS yet: until it does, New and
// Reload refuse a config with a tls section (refuseTLS), so that a
// listener meant to be HTTPS never serves plain HTTP.

// serverOptions converts a listener's tls section.
func serverOptions(t *config.ListenerTLS) tlsloop.ServerOptions {
	o := tlsloop.ServerOptions{
		MinVersion:            config.TLSVersion(t.MinVersion),
		MaxVersion:            config.TLSVersion(t.MaxVersion),
		CipherSuites:          config.CipherSuites(t.CipherSuites),
		CurvePreferences:      config.Curves(t.Curves),
		ClientCAFile:          t.ClientCAFile,
		DisableSessionTickets: !t.SessionTickets,
		TicketRotation:        t.TicketKeyRotation,
		TicketLifetime:        t.TicketLifetime,
		Handshake: tlsloop.HandshakeLimits{
			Timeout:     t.HandshakeTimeout,
			MaxInFlight: t.MaxHandshakes,
			Workers:     t.HandshakeWorkers,
		},
	}
	if len(t.ALPN) > 0 {
		o.ALPN = t.ALPN
	}
	switch t.ClientAuth {
	case "optional":
		o.ClientAuth = tlsloop.OptionalClientCert
	case "require":
		o.ClientAuth = tlsloop.RequireClientCert
	}
	for _, c := range t.Certificates {
		f := tlsloop.CertFile{CertFile: c.CertFile, KeyFile: c.KeyFile, Default: c.Default}
		if len(c.ServerNames) > 0 {
			f.ServerNames = c.ServerNames // empty: the certificate's own names
		}
		o.Certificates = append(o.Certificates, f)
	}
	return o
}

// clientOptions converts an upstream's tls section.
func clientOptions(t *config.UpstreamTLS) tlsloop.ClientOptions {
	return tlsloop.ClientOptions{
		CAFile:             t.CAFile,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		CertFile:           t.CertFile,
		KeyFile:            t.KeyFile,
		MinVersion:         config.TLSVersion(t.MinVersion),
		MaxVersion:         config.TLSVersion(t.MaxVersion),
		ALPN:               []string{"http/1.1"},
		DisableResumption:  !t.SessionResumption,
	}
}

// checkTLS loads what the tls sections of cfg name, as a start or a
// reload would, and returns each unusable file as a FieldError at its
// field, and the warnings (a certificate about to expire, a chain out of
// order) at their listener's tls section.
func checkTLS(cfg *config.Config, now time.Time) (errs, warnings config.Errors) {
	for i, l := range cfg.Listeners {
		if l.TLS == nil {
			continue
		}
		p := fmt.Sprintf("listeners[%d].tls", i)
		sc, err := tlsloop.LoadServer(serverOptions(l.TLS), now)
		errs = append(errs, loadErrors(cfg, p, err)...)
		if sc != nil {
			for _, w := range sc.Warnings() {
				warnings = append(warnings, cfg.Errorf(p, "warning: "+w))
			}
		}
	}
	for i, u := range cfg.Upstreams {
		if u.TLS == nil {
			continue
		}
		_, err := tlsloop.LoadClient(clientOptions(u.TLS))
		errs = append(errs, loadErrors(cfg, fmt.Sprintf("upstreams[%d].tls", i), err)...)
	}
	return errs, warnings
}

// loadErrors maps tlsloop's LoadErrors under the section at p to
// FieldErrors ("listeners[0].tls.certificates[1].key_file: /etc/k.pem: the
// private key does not match the certificate in /etc/c.pem").
func loadErrors(cfg *config.Config, p string, err error) config.Errors {
	if err == nil {
		return nil
	}
	var les tlsloop.LoadErrors
	if !errors.As(err, &les) {
		return config.Errors{cfg.Errorf(p, err.Error())}
	}
	var out config.Errors
	for _, e := range les {
		path := p + "." + e.Field
		if e.Index >= 0 {
			path = fmt.Sprintf("%s.certificates[%d].%s", p, e.Index, e.Field)
		}
		msg := e.Reason
		if e.File != "" {
			msg = e.File + ": " + e.Reason
		}
		out = append(out, errorAt(cfg, path, msg))
	}
	return out
}

// errorAt is cfg.Errorf at path's line, or its nearest ancestor's when the
// field is not in the file (server_names[0] comes from the certificate).
func errorAt(cfg *config.Config, path, msg string) *config.FieldError {
	e := cfg.Errorf(path, msg)
	for p := path; e.Line == 0 && p != ""; {
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
		e.Line = cfg.Line(p)
	}
	return e
}

// refuseTLS refuses a config with a tls section while the engine does not
// serve TLS (issue 13): delete it when it does.
func refuseTLS(cfg *config.Config) error {
	var errs config.Errors
	for i, l := range cfg.Listeners {
		if l.TLS != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("listeners[%d].tls", i),
				"HTTPS is not served by this build's engine yet (issue 13): the listener would serve plain HTTP; remove the section"))
		}
	}
	for i, u := range cfg.Upstreams {
		if u.TLS != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("upstreams[%d].tls", i),
				"TLS to upstreams is not in this build's engine yet (issue 13): remove the section"))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
