package trie

import "sort"

// Method slots. Every node that ends a route holds one slot per method the
// tree knows (the nine standard ones, then the extra methods that routes
// named, sorted) plus a last slot for any other method, so that choosing the
// route for a method is one array index, not a map lookup or a string
// comparison per route.
const (
	mGET = iota
	mHEAD
	mPOST
	mPUT
	mPATCH
	mDELETE
	mOPTIONS
	mCONNECT
	mTRACE
	numStdMethods
)

// stdMethods are the standard methods in slot order, which is also the
// order of Allow lists.
var stdMethods = [numStdMethods]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// methodTable maps a request method to its slot. It is built once and only
// read afterwards.
type methodTable struct {
	names []string // slot order: stdMethods, then extra methods; the "other" slot is len(names)
}

func newMethodTable(extra map[string]bool) methodTable {
	names := append([]string(nil), stdMethods[:]...)
	var ext []string
	for m := range extra {
		ext = append(ext, m)
	}
	sort.Strings(ext)
	return methodTable{names: append(names, ext...)}
}

// slots is the length of every node's slot array.
func (mt *methodTable) slots() int { return len(mt.names) + 1 }

// index returns the slot of method. Methods are case-sensitive (RFC 9110
// §9.1): "get" is an unknown method and only "*" routes answer it.
func (mt *methodTable) index(method []byte) int {
	switch len(method) {
	case 3:
		if method[0] == 'G' && method[1] == 'E' && method[2] == 'T' {
			return mGET
		}
		if method[0] == 'P' && method[1] == 'U' && method[2] == 'T' {
			return mPUT
		}
	case 4:
		if string(method) == "HEAD" {
			return mHEAD
		}
		if string(method) == "POST" {
			return mPOST
		}
	case 5:
		if string(method) == "PATCH" {
			return mPATCH
		}
		if string(method) == "TRACE" {
			return mTRACE
		}
	case 6:
		if string(method) == "DELETE" {
			return mDELETE
		}
	case 7:
		if string(method) == "OPTIONS" {
			return mOPTIONS
		}
		if string(method) == "CONNECT" {
			return mCONNECT
		}
	}
	return mt.extraIndex(method)
}

func (mt *methodTable) extraIndex(method []byte) int {
	for i := numStdMethods; i < len(mt.names); i++ {
		if string(method) == mt.names[i] {
			return i
		}
	}
	return len(mt.names)
}

// tokenByte marks RFC 9110 §5.6.2 tchar, the bytes of a method name.
var tokenByte = func() (t [256]bool) {
	t = unreserved
	for _, c := range "!#$%&'*+^`|" {
		t[c] = true
	}
	return t
}()

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !tokenByte[m[i]] {
			return false
		}
	}
	return true
}
