// Package testsupport holds what the tests of several packages (engine,
// gateway, admin, loadgen, the commands) would otherwise copy from each
// other: the goleak options for the libraries whose goroutines outlive a
// test (Leaks), polling with a deadline (Eventually), a net/http upstream
// on a kernel-chosen port that counts its connections and requests
// (NewUpstream), hotecho's server started the same way (StartEcho), one
// HTTP request (Do) and the Prometheus text format read back as series
// (ParseExposition, Sample, Scrape).
//
// It is imported by _test.go files only; nothing in it runs in the
// binaries.
package testsupport
