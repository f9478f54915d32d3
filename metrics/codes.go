package metrics

import "strconv"

// Status codes are counted one by one, so that 502, 503 and 504 (or 401,
// 403 and 429) can be told apart, in a fixed array per route and upstream:
// each code registered with IANA (RFC 9110 and its successors) has a slot,
// a code outside the registry counts in its class's slot ("5xx"), and a
// missing or out-of-range status (0: the client left first; 999 from an
// upstream) in "other". The collector exports only the slots that moved,
// so the label values are bounded by the codes seen.
var registeredCodes = [...]int{
	100, 101, 102, 103,
	200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
	300, 301, 302, 303, 304, 305, 307, 308,
	400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
	421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
	500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
}

const (
	numRegistered = len(registeredCodes)
	slotClass     = numRegistered     // slotClass + class index (0: 1xx ... 4: 5xx) for unregistered codes
	slotOther     = numRegistered + 5 // no response, or a status outside 100..599
	numCodeSlots  = numRegistered + 6
)

// codeSlots maps a status in 0..599 to its slot; codeLabels names the slots.
var codeSlots, codeLabels = func() (s [600]uint8, l [numCodeSlots]string) {
	for i := range s {
		s[i] = uint8(slotOther)
		if i >= 100 {
			s[i] = uint8(slotClass + i/100 - 1)
		}
	}
	for i, c := range registeredCodes {
		s[c] = uint8(i)
		l[i] = strconv.Itoa(c)
	}
	for i, c := range classLabels[:5] {
		l[slotClass+i] = c
	}
	l[slotOther] = "other"
	return s, l
}()

// codeSlot returns status's counter slot.
func codeSlot(status int) int {
	if uint(status) >= uint(len(codeSlots)) {
		return slotOther
	}
	return int(codeSlots[status])
}
