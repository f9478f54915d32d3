package echoserver

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// HTTP/2 over cleartext (Config.H2C): the same responses from Go's
// net/http server speaking HTTP/2 with prior knowledge (http.Protocols
// with UnencryptedHTTP2), and HTTP/1.1 on the same port, so that the
// gateway's HTTP/2 upstreams have a benchmark upstream.

func (s *Server) newH2C() *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:     http.HandlerFunc(s.serveHTTP),
		Protocols:   &p,
		IdleTimeout: s.cfg.IdleTimeout,
		HTTP2: &http.HTTP2Config{
			// Many clients' requests share few connections: allow many
			// streams, and windows that do not throttle a large body.
			MaxConcurrentStreams:          1000,
			MaxReceiveBufferPerStream:     1 << 20,
			MaxReceiveBufferPerConnection: 16 << 20,
		},
	}
}

// serveHTTP is Handle for net/http.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.URL.Path == string(healthPath) {
		h["Content-Type"] = textPlain
		_, _ = w.Write(healthBody)
		return
	}
	if s.cfg.Stall.Every > 0 {
		if d := s.stallWait(time.Now()); d > 0 {
			time.Sleep(d)
		}
	}
	if d := s.delay(); d > 0 {
		time.Sleep(d)
	}
	h["Content-Type"] = textPlain
	body := s.body
	if s.cfg.Echo {
		b, _ := io.ReadAll(r.Body)
		head := r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n"
		for k, vs := range r.Header {
			for _, v := range vs {
				head += k + ": " + v + "\r\n"
			}
		}
		body = append([]byte(head+"\r\n"), b...)
	} else if r.Body != nil && r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if !s.cfg.Chunked {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(s.status())
	if !s.cfg.Chunked {
		_, _ = w.Write(body)
		return
	}
	f, _ := w.(http.Flusher)
	for len(body) > 0 {
		n := min(len(body), s.cfg.ChunkSize)
		_, _ = w.Write(body[:n])
		body = body[n:]
		if f != nil {
			f.Flush()
		}
	}
}

var textPlain = []string{"text/plain"}
