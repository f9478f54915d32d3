// Package echoserver is the benchmark upstream behind the hotecho command: a
// fasthttp server whose responses are shaped by a Config (a fixed body of a
// given size, Content-Length or chunked framing, a status mix, a delay with
// jitter, periodic stalls, or an echo of the request).
//
// Every response is built from bytes prepared once in New; the handler only
// picks a status and, when asked to, sleeps. fasthttp serves each connection
// on its own goroutine, so a delay or a stall holds that connection only.
//
//	cfg := echoserver.Config{Size: 13, Delay: time.Millisecond}
//	srv, err := echoserver.New(cfg)
//	ln, _ := net.Listen("tcp", "127.0.0.1:9001")
//	go srv.Serve(ln)
//	defer srv.Shutdown(context.Background())
//
// Paths: /healthz always answers 200 "ok" at once (no delay, stall or mix);
// every other path answers per Config.
package echoserver
