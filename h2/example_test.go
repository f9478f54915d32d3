package h2_test

import (
	"fmt"

	"github.com/hotpath/hotpath/h2"
)

// A ServerConn fed a client's preface, SETTINGS and one request, answering
// it as an engine would.
func Example() {
	var client h2.ClientConn
	client.Init([]*h2.RequestTemplate{h2.NewRequestTemplate("GET", "http", "example.com", "/hello", nil, nil)})
	client.Open(0, 0)
	in := client.Output()

	sc := h2.NewServerConn(h2.Limits{}, 1)
	for off := 0; ; {
		n, ev := sc.Feed(in[off:], 1)
		off += n
		if ev.Kind == h2.EventNone {
			break
		}
		if ev.Kind == h2.EventRequest {
			r := ev.Request
			fmt.Printf("%s %s on %s, stream %d\n", r.Method, r.Path, r.Host, ev.Stream)
			sc.StartHeaders(ev.Stream, 200)
			sc.FieldString("content-type", "text/plain")
			sc.EndHeaders(false)
			sc.WriteData(ev.Stream, []byte("hi\n"), true, 1)
		}
	}
	out := sc.Output()
	for off := 0; ; {
		n, ev := client.Feed(out[off:])
		off += n
		if ev.Kind == h2.ClientNone {
			break
		}
		if ev.Kind == h2.ClientDone {
			fmt.Println("response", ev.Status)
		}
	}
	// Output:
	// GET /hello on example.com, stream 1
	// response 200
}
