package cors

import "strconv"

// Error is a bad Options field: Field is its YAML name (allow_origins,
// allow_methods, ...), Index the list element at fault or -1.
type Error struct {
	Field string
	Index int
	Msg   string
}

func (e *Error) Error() string {
	f := e.Field
	if e.Index >= 0 {
		f += "[" + strconv.Itoa(e.Index) + "]"
	}
	return "cors: " + f + ": " + e.Msg
}
