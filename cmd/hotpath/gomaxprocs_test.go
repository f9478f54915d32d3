package main

import (
	"runtime"
	"testing"
)

// TestSpareP: the process keeps one P more than its event loops unless
// GOMAXPROCS is set in the environment, and never lowers it.
func TestSpareP(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	if p, raised := spareP(1); !raised || p != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Fatalf("one loop on one P: got %d (raised %v), want 2", runtime.GOMAXPROCS(0), raised)
	}
	runtime.GOMAXPROCS(8)
	if _, raised := spareP(4); raised || runtime.GOMAXPROCS(0) != 8 {
		t.Fatalf("4 loops on 8 Ps: changed to %d", runtime.GOMAXPROCS(0))
	}

	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	if _, raised := spareP(1); raised || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("GOMAXPROCS=1 in the environment: changed to %d", runtime.GOMAXPROCS(0))
	}
}
