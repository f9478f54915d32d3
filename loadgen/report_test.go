package loadgen

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// synthetic returns a Result with n latencies drawn from rng.
func synthetic(rng *rand.Rand, n int, rate float64) *Result {
	r := &Result{
		Config: Config{URL: "http://x/", Connections: 8, Threads: 1, Duration: time.Second, Rate: rate}, Runs: 1,
		Elapsed: time.Second, Requests: int64(n), Sent: int64(n),
		Status: map[int]int64{200: int64(n) - 3, 503: 3}, Errors: map[string]int64{"timeout": 2},
		Latency: newHistogram(), Uncorrected: newHistogram(), BytesIn: 100, BytesOut: 50,
		CPU: 100 * time.Millisecond, Wall: time.Second,
	}
	for range n {
		v := int64(rng.ExpFloat64()*2000) + 50
		record(r.Latency, v)
		record(r.Uncorrected, v/2+1)
	}
	return r
}

func TestJSONRoundTripAndMergeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := synthetic(rng, 5000, 1000), synthetic(rng, 7000, 2000)

	var bufA, bufB bytes.Buffer
	if err := WriteJSON(&bufA, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&bufB, b); err != nil {
		t.Fatal(err)
	}
	ra, err := ReadJSON(&bufA)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ReadJSON(bytes.NewReader(bufB.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !ra.Latency.Equals(a.Latency) || !ra.Uncorrected.Equals(a.Uncorrected) {
		t.Fatal("histograms changed in the JSON round trip")
	}
	if ra.Requests != a.Requests || ra.Status[503] != 3 || ra.Errors["timeout"] != 2 || ra.RPS() != a.RPS() {
		t.Fatalf("figures changed: %+v", ra)
	}

	m, err := Merge(ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	union := newHistogram()
	union.Merge(a.Latency)
	union.Merge(b.Latency)
	if !m.Latency.Equals(union) {
		t.Fatal("merged histogram differs from the histogram of the union")
	}
	for _, q := range []float64{50, 99, 99.99} {
		if m.Latency.ValueAtQuantile(q) != union.ValueAtQuantile(q) {
			t.Fatalf("p%v differs", q)
		}
	}
	if m.Requests != 12000 || m.Status[503] != 6 || m.Errors["timeout"] != 4 || m.Runs != 2 {
		t.Fatalf("merged counts: requests %d status %v errors %v runs %d", m.Requests, m.Status, m.Errors, m.Runs)
	}
	if m.RPS() != a.RPS()+b.RPS() || m.Config.Rate != 3000 || m.Config.Connections != 16 {
		t.Fatalf("merged rps %v rate %v conns %d", m.RPS(), m.Config.Rate, m.Config.Connections)
	}
	// A merged report survives its own round trip.
	var bufM bytes.Buffer
	if err := WriteJSON(&bufM, m); err != nil {
		t.Fatal(err)
	}
	rm, err := ReadJSON(&bufM)
	if err != nil {
		t.Fatal(err)
	}
	if !rm.Latency.Equals(union) || rm.RPS() != m.RPS() || rm.Runs != 2 {
		t.Fatal("merged report changed in its round trip")
	}
	if _, err := ReadJSON(strings.NewReader(`{"version":7}`)); !errors.Is(err, ErrBadReport) {
		t.Fatalf("err %v, want ErrBadReport", err)
	}
}

func TestHgrm(t *testing.T) {
	r := synthetic(rand.New(rand.NewPCG(3, 4)), 10000, 0)
	var b bytes.Buffer
	if err := WriteHgrm(&b, r.Latency); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "Value Percentile TotalCount 1/(1-Percentile)" || lines[1] != "" {
		t.Fatalf("header %q %q", lines[0], lines[1])
	}
	footer := lines[len(lines)-3:]
	for i, prefix := range []string{"#[Mean    =", "#[Max     =", "#[Buckets ="} {
		if !strings.HasPrefix(footer[i], prefix) {
			t.Fatalf("footer line %d %q", i, footer[i])
		}
	}
	if !strings.Contains(footer[1], "Total count    =        10000]") || !strings.Contains(footer[2], "SubBuckets     =         2048]") {
		t.Fatalf("footer %q", footer)
	}
	prevV, prevP, prevN := -1.0, -1.0, int64(-1)
	rows := lines[2 : len(lines)-3]
	for _, l := range rows {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("row %q", l)
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		p, _ := strconv.ParseFloat(f[1], 64)
		n, _ := strconv.ParseInt(f[2], 10, 64)
		if v < prevV || p < prevP || n < prevN || p > 1 {
			t.Fatalf("row %q not monotonic after %v %v %v", l, prevV, prevP, prevN)
		}
		prevV, prevP, prevN = v, p, n
	}
	if prevP != 1 || prevN != 10000 || prevV != float64(r.Latency.Max())/1000 {
		t.Fatalf("last row %v %v %v", prevV, prevP, prevN)
	}
}

func TestFailIf(t *testing.T) {
	r := synthetic(rand.New(rand.NewPCG(5, 6)), 10000, 0)
	p99 := time.Duration(r.Latency.ValueAtQuantile(99)) * time.Microsecond
	tests := []struct {
		name string
		in   string
		err  error
		fail int // conditions that hold
	}{
		{name: "p99 over", in: "p99>" + (p99 / 2).String(), fail: 1},
		{name: "p99 under", in: "p99>" + (p99 * 2).String(), fail: 0},
		{name: "uncorrected", in: "p99u>=1us", fail: 1},
		{name: "error share", in: "errors>0.01%", fail: 1}, // 2 of 10002
		{name: "error share ok", in: "errors>1%", fail: 0},
		{name: "error count", in: "errors>=2", fail: 1},
		{name: "non2xx", in: "non2xx>2", fail: 1},
		{name: "rps", in: "rps<20000", fail: 1},
		{name: "several", in: "p99>1h, rps<1,errors>0", fail: 1},
		{name: "mean", in: "mean<=1h", fail: 1},
		{name: "unknown metric", in: "p42>1ms", err: ErrBadFailIf},
		{name: "no op", in: "p99", err: ErrBadFailIf},
		{name: "no unit", in: "p99>20", err: ErrBadFailIf},
		{name: "bad number", in: "rps<many", err: ErrBadFailIf},
		{name: "empty", in: " , ", err: ErrBadFailIf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conds, err := ParseFailIf(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			failed := CheckFailIf(conds, r)
			if len(failed) != tc.fail {
				t.Fatalf("failed %q, want %d", failed, tc.fail)
			}
			for _, f := range failed {
				if !strings.HasPrefix(f, "fail-if ") {
					t.Fatalf("line %q", f)
				}
			}
		})
	}
}

func TestCompareAndSummary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, b := synthetic(rng, 1000, 0), synthetic(rng, 2000, 0)
	b.Elapsed = time.Second
	var out bytes.Buffer
	if err := Compare(&out, "a.json", "b.json", a, b); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"a.json", "b.json", "B/A", "requests/s", "2.00x", "p99.99", "cpu/request us"} {
		if !strings.Contains(s, want) {
			t.Fatalf("compare output lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	a.Config.Rate = 500
	a.Warnings = []string{"hotload fell behind"}
	if err := WriteSummary(&out, a); err != nil {
		t.Fatal(err)
	}
	s = out.String()
	for _, want := range []string{"Requests/sec:", "corrected", "uncorrected", "p99.99", "Status: 200: 997 503: 3", "timeout 2", "WARNING: hotload fell behind"} {
		if !strings.Contains(s, want) {
			t.Fatalf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{name: "behind rate", r: Result{Config: Config{Rate: 1000, Threads: 1}, Elapsed: time.Second, Sent: 900}, want: "fell behind"},
		{name: "late", r: Result{Config: Config{Rate: 1000, Threads: 1}, Elapsed: time.Second, Sent: 1000, LagMean: 20 * time.Millisecond}, want: "late on average"},
		{name: "cpu", r: Result{Config: Config{Threads: 2}, Wall: time.Second, CPU: 1950 * time.Millisecond}, want: "saturated its CPU"},
		{name: "fine", r: Result{Config: Config{Rate: 1000, Threads: 2}, Elapsed: time.Second, Sent: 1000, Wall: time.Second, CPU: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := warnings(&tc.r)
			if tc.want == "" {
				if len(w) != 0 {
					t.Fatalf("warnings %q", w)
				}
				return
			}
			if len(w) != 1 || !strings.Contains(w[0], tc.want) {
				t.Fatalf("warnings %q, want %q", w, tc.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
	}{
		{name: "ok", in: `{"url":"http://127.0.0.1:1/a"}` + "\n" + `{"method":"PUT","url":"http://127.0.0.1:1/b","body":"x"}`},
		{name: "mixed hosts", in: `{"url":"http://127.0.0.1:1/a"}` + "\n" + `{"url":"http://127.0.0.1:2/a"}`, err: ErrMixedHosts},
		{name: "ftp", in: `{"url":"ftp://127.0.0.1:1/a"}`, err: ErrBadURL},
		{name: "unknown field", in: `{"uri":"http://127.0.0.1:1/a"}`, err: ErrBadTargets},
		{name: "empty", in: "# nothing\n", err: ErrBadTargets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTargets(strings.NewReader(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
	tg, err := NewTarget("POST", "http://example.com:8080/p?q=1", []string{"Host: other", "X-A: b"}, "body")
	if err != nil {
		t.Fatal(err)
	}
	tg.render(true)
	s := string(tg.Bytes())
	for _, want := range []string{"POST /p?q=1 HTTP/1.1\r\n", "Host: other\r\n", "X-A: b\r\n", "Connection: close\r\n", "Content-Length: 4\r\n\r\nbody"} {
		if !strings.Contains(s, want) {
			t.Fatalf("request %q lacks %q", s, want)
		}
	}
	for _, bad := range []string{"NoColon", ": empty name", "Bad Name: x"} {
		if _, err := NewTarget("GET", "http://x/", []string{bad}, ""); !errors.Is(err, ErrBadHeader) {
			t.Fatalf("header %q: err %v", bad, err)
		}
	}
}
