package echoserver

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDist parses "uniform", "normal" or "exponential".
func ParseDist(s string) (Dist, error) {
	switch strings.ToLower(s) {
	case "uniform", "":
		return Uniform, nil
	case "normal":
		return Normal, nil
	case "exponential", "exp":
		return Exponential, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrBadDist, s)
}

// ParseStatusMix parses "200:98,503:2". An empty string is an empty mix.
func ParseStatusMix(s string) ([]StatusWeight, error) {
	if s == "" {
		return nil, nil
	}
	var out []StatusWeight
	for part := range strings.SplitSeq(s, ",") {
		code, weight, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrBadStatusMix, part)
		}
		c, err1 := strconv.Atoi(code)
		w, err2 := strconv.Atoi(weight)
		if err1 != nil || err2 != nil || c < 100 || c > 999 || w <= 0 {
			return nil, fmt.Errorf("%w: %q", ErrBadStatusMix, part)
		}
		out = append(out, StatusWeight{Status: c, Weight: w})
	}
	return out, nil
}

// FormatStatusMix is the inverse of ParseStatusMix.
func FormatStatusMix(mix []StatusWeight) string {
	parts := make([]string, len(mix))
	for i, sw := range mix {
		parts[i] = strconv.Itoa(sw.Status) + ":" + strconv.Itoa(sw.Weight)
	}
	return strings.Join(parts, ",")
}

// ParseStall parses "200ms/5s" (hold responses for the first 200 ms of every
// 5 s). An empty string means no stall.
func ParseStall(s string) (Stall, error) {
	if s == "" {
		return Stall{}, nil
	}
	p, e, ok := strings.Cut(s, "/")
	if !ok {
		return Stall{}, fmt.Errorf("%w: %q", ErrBadStall, s)
	}
	pause, err1 := time.ParseDuration(p)
	every, err2 := time.ParseDuration(e)
	if err1 != nil || err2 != nil || pause <= 0 || every <= pause {
		return Stall{}, fmt.Errorf("%w: %q", ErrBadStall, s)
	}
	return Stall{Pause: pause, Every: every}, nil
}
