package limiter

import "math/bits"

// KeyedConcurrency bounds how many holders each key has at once: the
// connections open per client address. Like GCRA it keeps one 64-bit word
// per key in a fixed table of sets (one cache line each: seven keyed words
// and an overflow word), changed only by compare-and-swap: no lock, no map,
// no allocation, bounded memory for any number of keys.
//
// A word is tag<<32 | count. A key's word is the first word of its set
// with its tag; a word whose count is 0 is free for any key to take, so a
// key keeps its word while it holds anything. When every keyed word of a
// set is held, new keys count in the set's overflow word, and while that
// word holds anything every key of the set is checked against its own
// count plus the overflow's: crowding makes the bound stricter, never
// looser. Two keys that agree on set and 32-bit tag share a word, which is
// stricter too. (Two callers inserting the same new key at the same
// instant, while another key frees a word between their scans, can give
// the key two words and so one extra holder, once.)
//
// A KeyedConcurrency is safe for concurrent use by any number of
// goroutines.
type KeyedConcurrency struct {
	sets []set
	mask uint64
}

const countMask = 1<<32 - 1

// NewKeyedConcurrency returns a table of slots words (rounded up to a power
// of two; 0 means DefaultSlots; 8 bytes each) tracking about 7/8 × slots
// keys at a time, or ErrSlots.
func NewKeyedConcurrency(slots int) (*KeyedConcurrency, error) {
	if slots < 0 || slots > maxSlots {
		return nil, ErrSlots
	}
	if slots == 0 {
		slots = DefaultSlots
	}
	slots = max(slots, ways)
	slots = 1 << bits.Len(uint(slots-1))
	n := slots / ways
	return &KeyedConcurrency{sets: make([]set, n), mask: uint64(n - 1)}, nil
}

func keyedTag(h uint64) uint64 {
	tag := h >> 32
	if tag == 0 {
		tag = 1
	}
	return tag
}

// Acquire takes one hold for the key whose hash is h (see Key) and reports
// whether it got one: false when the key already has max holders (max < 1
// refuses everything). Every true result must be paired with one Release
// of the same h.
func (k *KeyedConcurrency) Acquire(h uint64, max int) bool {
	if max < 1 {
		return false
	}
	s := &k.sets[h&k.mask]
	tag := keyedTag(h)
	limit := uint64(min(max, countMask))
	for {
		of := s[keyWays].Load() & countMask
		own, free := -1, -1
		var ownW, freeW uint64
		for i := 0; i < keyWays; i++ {
			w := s[i].Load()
			if w>>32 == tag {
				own, ownW = i, w
				break
			}
			if free < 0 && w&countMask == 0 {
				free, freeW = i, w
			}
		}
		switch {
		case own >= 0:
			if ownW&countMask+of >= limit {
				return false
			}
			if s[own].CompareAndSwap(ownW, ownW+1) {
				return true
			}
		case free >= 0:
			if of >= limit {
				return false
			}
			if s[free].CompareAndSwap(freeW, tag<<32|1) {
				return true
			}
		default:
			// Every keyed word is held: count in the overflow word.
			w := s[keyWays].Load()
			if w&countMask >= limit {
				return false
			}
			if s[keyWays].CompareAndSwap(w, w+1) {
				return true
			}
		}
		// A CAS lost a race: decide again on fresh words.
	}
}

// Release gives back one hold taken by Acquire(h, ...). A Release without
// an Acquire does nothing when nothing is held in h's set.
func (k *KeyedConcurrency) Release(h uint64) {
	s := &k.sets[h&k.mask]
	tag := keyedTag(h)
	for {
		done, lost := false, false
		for i := 0; i < keyWays; i++ {
			w := s[i].Load()
			if w>>32 == tag && w&countMask > 0 {
				done, lost = true, !s[i].CompareAndSwap(w, w-1)
				break
			}
		}
		if !done {
			// The key's holds are in the overflow word (its own word
			// was never taken, or is at zero).
			w := s[keyWays].Load()
			if w&countMask == 0 {
				return
			}
			lost = !s[keyWays].CompareAndSwap(w, w-1)
		}
		if !lost {
			return
		}
	}
}

// Held returns the holds counted for h's key: its word's count plus its
// set's overflow count (an upper bound when other keys share the
// overflow). For tests and metrics.
func (k *KeyedConcurrency) Held(h uint64) int {
	s := &k.sets[h&k.mask]
	tag := keyedTag(h)
	n := s[keyWays].Load() & countMask
	for i := 0; i < keyWays; i++ {
		if w := s[i].Load(); w>>32 == tag {
			n += w & countMask
			break
		}
	}
	return int(n)
}
