package config

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// yamlLine matches the position yaml.v3 puts in a syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError turns yaml.v3's error for data into a FieldError at the line
// where the text goes wrong. yaml.v3 names the line where the enclosing
// block starts for a parser error (a key indented one column too little in
// the 40th route is reported at "routes:"), so the line is found again: it
// is the shortest prefix of whole lines that fails with the same message.
// A prefix cut inside a construct fails with another message (or none),
// and parsing stops at the first error, so among prefixes with the same
// message the shortest ends on the offending line; a binary search finds
// it in a few parses.
func syntaxError(source string, data []byte, err error) *FieldError {
	msg, reported := splitYAMLError(err)
	if msg == "" {
		return &FieldError{Source: source, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	ends := lineEnds(data)
	fails := func(n int) bool { // the first n lines fail with msg
		var doc yaml.Node
		e := yaml.Unmarshal(data[:ends[n-1]], &doc)
		if e == nil {
			return false
		}
		em, _ := splitYAMLError(e)
		return em == msg
	}
	lo, hi := 1, len(ends) // fails(hi) holds: the whole text
	if reported >= 1 && reported <= hi && !fails(reported) {
		lo = reported + 1 // the problem is never above the block's start
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &FieldError{Source: source, Line: hi, Msg: msg}
}

// splitYAMLError returns the message of a yaml.v3 syntax error and the
// line it names (0 when it names none: yaml.v3 leaves the line out of an
// error on the first line, "yaml: mapping values are not allowed in this
// context"). msg is "" for an error that is not a syntax error.
func splitYAMLError(err error) (msg string, line int) {
	text := err.Error()
	if m := yamlLine.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		return text[len(m[0]):], line
	}
	if rest, ok := strings.CutPrefix(text, "yaml: "); ok && !strings.Contains(rest, "\n") {
		return rest, 0
	}
	return "", 0
}

// lineEnds returns the offset just past each line of data (a last line
// without a newline included).
func lineEnds(data []byte) []int {
	var ends []int
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			ends = append(ends, len(data))
			break
		}
		off += i + 1
		ends = append(ends, off)
	}
	if len(ends) == 0 {
		ends = append(ends, 0)
	}
	return ends
}
