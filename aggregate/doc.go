// Package aggregate answers one request with a JSON object merged from
// several upstream requests (the parts of a route's aggregate: section),
// made concurrently by worker goroutines through a keep-alive HTTP/1.1
// client.
//
// The engine's event loops must never block, so the engine only renders
// each part's request target and forwarded fields on the loop (while the
// request head is readable), calls Client.Start, and parks the client
// request. Start runs the parts on goroutines of the Client, picks each
// part's endpoint with its upstream's balancer (so endpoint health and
// passive ejection apply, and the part's outcome feeds them back through
// Endpoint.Begin and End), merges the bodies in config order and hands the
// Result to the done callback, which posts it back to the owning loop.
//
// A Spec bounds its aggregations in flight (MaxConcurrent): Start refuses
// at once beyond it, and the engine answers 503. A Client bounds every
// goroutine it starts by the aggregation's Timeout and by Close.
//
//	c := aggregate.NewClient(aggregate.Options{})
//	defer c.Close()
//	cancel, ok := c.Start(spec, &aggregate.Request{Parts: parts}, func(r *aggregate.Result) { ... })
//
// docs/aggregate.md describes the configuration and the response.
package aggregate
