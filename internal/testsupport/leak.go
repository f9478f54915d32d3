package testsupport

import "go.uber.org/goleak"

// GnetLeaks are the goleak options for tests that run gnet event loops:
// gnet's worker pool (ants) runs Enroll, and its idle workers expire on
// their own schedule, after the test binary's checks.
func GnetLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*Pool).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*Pool).ticktock"),
	}
}

// FasthttpLeaks are the goleak options for tests that run a fasthttp
// server (hotecho's): its worker pool and its Date updater outlive
// Shutdown.
func FasthttpLeaks() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	}
}
