// Package loadgen is the load generator behind the hotload command: HTTP/1.1
// over plain TCP, driven by one epoll event loop per thread, with latencies
// recorded into HDR histograms.
//
// # Model
//
// Run starts Config.Threads loops (each on its own locked OS thread) and
// spreads Config.Connections over them. Request bytes are rendered once
// (Target.Bytes); a loop copies them into a connection's write buffer and
// sends every request that is due in one write. Responses are framed with
// package parser (Content-Length, chunked, close-delimited, HEAD, 1xx) and
// their bodies are skipped, never copied out; framing and recording a
// response does not allocate.
//
// Closed loop (Config.Rate == 0): each connection keeps Config.Pipeline
// requests in flight and sends the next as soon as a response is in.
//
// Open loop (Config.Rate > 0): the rate is a schedule. Each connection owns an
// evenly spaced schedule of Rate/Connections requests per second, with the
// connections' phases staggered across one interval so that sends are spread
// evenly in time. A request's latency is measured from its intended send time
// on that schedule, so a server stall that delays later sends is charged to
// those requests too (the coordinated-omission correction that wrk2 made
// known). The latency from the actual send time is recorded as well
// (Result.Uncorrected) so that the two can be compared.
//
// # Results
//
// Each loop records into its own histograms (microseconds, 3 significant
// digits, up to one minute); Run merges them. A Result is data: it encodes to
// JSON with its histograms in HdrHistogram's compressed base64 form (Report),
// so results from several machines merge exactly (MergeReports), compare
// (Compare), print (WriteSummary) and export to the .hgrm percentile format
// (WriteHgrm). Result.Warnings says when the generator itself was the
// bottleneck: it fell behind the schedule or saturated its CPU.
//
// # Capacity
//
// RunRamp finds the knee of a target: constant-rate steps of rising rate
// (each a Run, so latency is corrected), stopping at the first step that
// breaks an objective (ParseObjective: "p99<10ms,errors<0.1%"), optionally
// bisecting between the last passing and the first failing rate. Each step
// drains (Config.Drain): after its window the responses to what it sent are
// still awaited and recorded, so that an overloaded step's slowest requests
// are not left out. A failing step in which hotload saturated its CPU, or
// fell behind its schedule while the target answered as fast as at a light
// load, is marked generator-bound and ends the ramp with a warning
// rather than a knee. WriteRamp, WriteRampJSON and RampHTML (a
// latency-against-throughput chart drawn with package plot) report it.
//
//	t, err := loadgen.NewTarget("GET", "http://127.0.0.1:9001/", nil, "")
//	cfg := loadgen.Config{Targets: []loadgen.Target{t}, Connections: 64, Threads: 2, Duration: 10 * time.Second}
//	res, err := loadgen.Run(ctx, cfg)
//	loadgen.WriteSummary(os.Stdout, res)
package loadgen
