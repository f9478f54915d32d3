package fdlimit

import "testing"

func TestRaise(t *testing.T) {
	l, err := Raise()
	if err != nil {
		t.Fatal(err)
	}
	if l.Soft != l.Hard || l.Before > l.Soft {
		t.Fatalf("after Raise: %+v, want the soft limit at the hard one", l)
	}
	c, err := Current()
	if err != nil || c.Soft != l.Soft || c.Hard != l.Hard {
		t.Fatalf("Current = %+v, %v; want %+v", c, err, l)
	}
}
