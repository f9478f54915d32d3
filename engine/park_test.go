package engine

import (
	"sync/atomic"
	"testing"
)

// stopHook is a parkHook that records its stop.
type stopHook struct{ stopped int }

func (h *stopHook) stop() bool { h.stopped++; return true }

// A park's resume counts once, and only for the park it was made for: a
// resume after the exchange stopped waiting, for an earlier park, for
// another kind of wait, or for a park of the exchange's previous request
// (exchanges are reused) does nothing. Stopping first stops the off-loop
// wait; the gauge counts the park while it lasts.
func TestParkResumesOnce(t *testing.T) {
	lp := defaultLoop(t)
	x := lp.newExchange(lp.newConn(nil))
	var gauge atomic.Int64

	first, h1 := x.newWake(), &stopHook{}
	x.parkOn(parkAuth, h1, &gauge)
	if !x.parkedOn(parkAuth) || gauge.Load() != 1 {
		t.Fatalf("parked on auth %v, gauge %d; want true, 1", x.parkedOn(parkAuth), gauge.Load())
	}
	x.unpark()
	if h1.stopped != 1 || gauge.Load() != 0 || x.parkedOn(parkAuth) {
		t.Fatalf("unpark: hook stopped %d times, gauge %d, still parked %v", h1.stopped, gauge.Load(), x.parkedOn(parkAuth))
	}
	if x.woken(parkAuth, first.seq) {
		t.Fatal("a resume after unpark was taken")
	}

	second, h2 := x.newWake(), &stopHook{}
	x.parkOn(parkAuth, h2, &gauge)
	if x.woken(parkAuth, first.seq) {
		t.Fatal("a resume for an earlier park was taken")
	}
	if x.woken(parkCache, second.seq) {
		t.Fatal("a resume for another kind of wait was taken")
	}
	if !x.woken(parkAuth, second.seq) {
		t.Fatal("the current park's resume was dropped")
	}
	if h2.stopped != 0 || gauge.Load() != 0 || x.parkedOn(parkAuth) {
		t.Fatalf("resume: hook stopped %d times, gauge %d, still parked %v", h2.stopped, gauge.Load(), x.parkedOn(parkAuth))
	}
	if x.woken(parkAuth, second.seq) {
		t.Fatal("a resume was taken twice")
	}
	x.unpark() // nothing to stop
	if h2.stopped != 0 || gauge.Load() != 0 {
		t.Fatalf("unpark after resume: hook stopped %d times, gauge %d", h2.stopped, gauge.Load())
	}

	slot := x.newWake().seq
	x.parkOn(parkSlot, nil, nil)
	x.end()
	lp.releaseExchange(x)
	y := lp.newExchange(lp.newConn(nil))
	if y != x {
		t.Fatal("newExchange did not reuse the released exchange")
	}
	if y.waitsOn(parkSlot, slot) {
		t.Fatal("the previous request's queue entry still stands for the reused exchange")
	}
	if next := y.newWake().seq; next == slot || y.waitsOn(parkSlot, slot) {
		t.Fatalf("the reused exchange's next park is numbered %d, the previous request's was %d", next, slot)
	}
}
