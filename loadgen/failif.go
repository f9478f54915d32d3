package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Condition is one --fail-if condition: the run fails when Metric Op Value
// holds. Metrics:
//
//	p50 p75 p90 p99 p99.9 p99.99 max mean   corrected latency; Value a duration (20ms, 1.5s, 300us)
//	p99u (and p50u ... maxu)                the uncorrected latency
//	rps                                     requests per second; a number
//	errors                                  failed requests; a count, or a share of all with % (0.1%)
//	non2xx                                  responses outside 200..399; a count or a share with %
//
// Op is one of > >= < <=. Examples: "p99>20ms", "errors>0.1%", "rps<10000".
type Condition struct {
	Metric  string
	Op      string
	Value   float64 // microseconds for latencies
	Percent bool
	Raw     string
}

var latencyQuantile = map[string]float64{"p50": 50, "p75": 75, "p90": 90, "p99": 99, "p99.9": 99.9, "p99.99": 99.99, "max": 100, "mean": -1}

// ParseFailIf parses comma-separated conditions.
func ParseFailIf(s string) ([]Condition, error) {
	var out []Condition
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		c, err := parseCondition(part)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadFailIf)
	}
	return out, nil
}

func parseCondition(s string) (Condition, error) {
	c := Condition{Raw: s}
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return c, fmt.Errorf("%w: %q: want METRIC OP VALUE, e.g. p99>20ms", ErrBadFailIf, s)
	}
	c.Metric = strings.ToLower(strings.TrimSpace(s[:i]))
	c.Op = s[i : i+1]
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		c.Op += "="
		rest = rest[1:]
	}
	rest = strings.TrimSpace(rest)
	bad := func(why string) (Condition, error) {
		return c, fmt.Errorf("%w: %q: %s", ErrBadFailIf, s, why)
	}
	metric := strings.TrimSuffix(c.Metric, "u")
	switch {
	case latencyQuantile[metric] != 0:
		d, err := time.ParseDuration(rest)
		if err != nil {
			return bad("want a duration such as 20ms")
		}
		c.Value = float64(d) / float64(time.Microsecond)
	case c.Metric == "rps":
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return bad("want a number")
		}
		c.Value = v
	case c.Metric == "errors" || c.Metric == "non2xx":
		c.Percent = strings.HasSuffix(rest, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(rest, "%"), 64)
		if err != nil {
			return bad("want a count or a percentage such as 0.1%")
		}
		c.Value = v
	default:
		return bad("unknown metric (p50 p75 p90 p99 p99.9 p99.99 max mean, with u for uncorrected; rps; errors; non2xx)")
	}
	return c, nil
}

// actual returns the run's value for the condition's metric, in the
// condition's unit, and its printed form.
func (c Condition) actual(r *Result) (float64, string) {
	metric := strings.TrimSuffix(c.Metric, "u")
	h := r.Latency
	if metric != c.Metric {
		h = r.Uncorrected
	}
	switch {
	case metric == "mean":
		return h.Mean(), fmtUS(h.Mean())
	case latencyQuantile[metric] != 0:
		v := float64(h.ValueAtQuantile(latencyQuantile[metric]))
		return v, fmtUS(v)
	case c.Metric == "rps":
		return r.RPS(), strconv.FormatFloat(r.RPS(), 'f', 2, 64)
	}
	n := r.ErrorCount()
	total := n + r.Requests
	if c.Metric == "non2xx" {
		n, total = r.Non2xx3xx(), r.Requests
	}
	if c.Percent {
		p := 0.0
		if total > 0 {
			p = 100 * float64(n) / float64(total)
		}
		return p, strconv.FormatFloat(p, 'f', 3, 64) + "%"
	}
	return float64(n), strconv.FormatInt(n, 10)
}

// Failed reports whether the condition holds for r (the run fails), with a
// line that says why.
func (c Condition) Failed(r *Result) (bool, string) {
	v, shown := c.actual(r)
	var hit bool
	switch c.Op {
	case ">":
		hit = v > c.Value
	case ">=":
		hit = v >= c.Value
	case "<":
		hit = v < c.Value
	case "<=":
		hit = v <= c.Value
	}
	return hit, fmt.Sprintf("fail-if %s: %s is %s", c.Raw, c.Metric, shown)
}

// CheckFailIf returns a line for every condition that holds for r.
func CheckFailIf(conds []Condition, r *Result) []string {
	var out []string
	for _, c := range conds {
		if hit, why := c.Failed(r); hit {
			out = append(out, why)
		}
	}
	return out
}
