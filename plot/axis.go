package plot

import (
	"math"
	"strconv"
)

// Axis is one axis of a Chart. The zero value is a linear axis whose range
// is taken from the data, starting at 0.
type Axis struct {
	Label string
	// Min and Max bound the axis; when both are 0 the range is taken from
	// the data: from 0 (linear) or the decade below the smallest value (Log)
	// to a rounded value above the largest.
	Min, Max float64
	// Log spaces the axis logarithmically, so that a value ten times
	// another is always the same distance above it: one outlier does not
	// flatten the rest. Values at or below 0 are drawn at the axis' low end.
	Log bool
	// Format labels the ticks; nil prints the number.
	Format func(float64) string
	// Ticks, when not nil, replace the computed ticks.
	Ticks []Tick
}

// Tick is a labelled position on an axis.
type Tick struct {
	At    float64
	Label string
}

// scale maps data values to pixels along one axis.
type scale struct {
	lo, hi   float64 // the axis' range (data units)
	log      bool
	from, to float64 // pixels of lo and hi
}

func (s scale) px(v float64) float64 {
	if s.log {
		if v <= 0 {
			v = s.lo
		}
		v, lo, hi := math.Log10(v), math.Log10(s.lo), math.Log10(s.hi)
		return s.from + (v-lo)/(hi-lo)*(s.to-s.from)
	}
	return s.from + (v-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

// bounds returns the axis' range for data spanning [dmin, dmax] (dmin the
// smallest positive value for a log axis).
func (a Axis) bounds(dmin, dmax float64) (lo, hi float64) {
	if a.Min != 0 || a.Max != 0 {
		lo, hi = a.Min, a.Max
	} else if a.Log {
		if dmin <= 0 || math.IsInf(dmin, 0) {
			dmin = 1
		}
		lo = math.Pow(10, math.Floor(math.Log10(dmin)))
		hi = niceLogCeil(max(dmax, lo))
		if hi/lo > 1000 { // only decades are ticked: end on one
			hi = math.Pow(10, math.Ceil(math.Log10(hi)-1e-9))
		}
	} else {
		hi, _ = niceScale(dmax)
	}
	if a.Log && lo <= 0 {
		lo = 1
	}
	if hi <= lo {
		if a.Log {
			hi = lo * 10
		} else {
			hi = lo + 1
		}
	}
	return lo, hi
}

// ticks returns the axis' ticks over [lo, hi].
func (a Axis) ticks(lo, hi float64) []Tick {
	if a.Ticks != nil {
		return a.Ticks
	}
	f := a.Format
	var out []Tick
	if f == nil && a.Log {
		f = func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
	}
	if a.Log {
		// Decades, with 2 and 5 between them when the axis spans few.
		steps := []float64{1}
		if hi/lo <= 1000 {
			steps = []float64{1, 2, 5}
		}
		for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi*(1+1e-9); d *= 10 {
			for _, m := range steps {
				if v := m * d; v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
					out = append(out, Tick{v, f(v)})
				}
			}
		}
		return out
	}
	_, step := niceScale(hi - lo)
	if f == nil { // as many decimals as the step has: 0.2, 2500, 10000
		decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
		if step*math.Pow10(decimals) != math.Round(step*math.Pow10(decimals)) {
			decimals++ // 2.5, 0.25
		}
		f = func(v float64) string { return strconv.FormatFloat(v, 'f', decimals, 64) }
	}
	for i := 0; lo+float64(i)*step <= hi+step*1e-9; i++ {
		v := lo + float64(i)*step
		out = append(out, Tick{v, f(v)})
	}
	return out
}

// niceScale rounds top up to 1, 2, 2.5 or 5 times a power of ten times the
// number of steps (about five) and returns it with its step.
func niceScale(top float64) (rounded, step float64) {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		return 1, 0.2
	}
	raw := top / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	return math.Ceil(top/step-1e-9) * step, step
}

// niceLogCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceLogCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// Micros labels a latency in microseconds: 250µs, 1.5ms, 2s.
func Micros(us float64) string {
	switch {
	case us < 1000:
		return strconv.FormatFloat(us, 'g', 3, 64) + "µs"
	case us < 1e6:
		return strconv.FormatFloat(us/1e3, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(us/1e6, 'g', 3, 64) + "s"
}
