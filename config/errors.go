package config

import (
	"strconv"
	"strings"
)

// FieldError is one problem in a configuration, located by source line and
// field path.
type FieldError struct {
	Source string // file name
	Line   int    // 1-based; 0 when unknown
	Path   string // "routes[2].upstream"
	Msg    string
}

// Error formats the problem as "file:line: path: message".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, in file order of
// discovery. Its Error has one line per problem.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Errorf returns a FieldError for the field at path, with its line looked up
// in c. The engine uses it for problems it finds while compiling routes.
// A field that the source leaves out (a required one) gets the line of the
// nearest enclosing field that it has.
func (c *Config) Errorf(path, msg string) *FieldError {
	return &FieldError{Source: c.Source, Line: c.lineOf(path), Path: path, Msg: msg}
}

// lineOf returns the line of path or of its nearest ancestor in the source.
func (c *Config) lineOf(path string) int {
	for p := path; p != ""; {
		if l := c.lines[p]; l > 0 {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}
