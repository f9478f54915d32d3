package iplist

import "errors"

// ErrEntry is returned for a list entry that is neither a CIDR nor an
// address (or carries a zone).
var ErrEntry = errors.New("iplist: want a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or an address")
