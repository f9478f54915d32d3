package engine

import (
	"net"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// heapInUse returns the live heap after a collection: what the process
// holds, not garbage awaiting the next cycle.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapGrowth is how far the live heap h is above base, a heapInUse taken
// when a bounded-memory test starts. The tests bound the growth, not the
// whole heap: gnet keeps every stopped engine (and so the Server behind it)
// in a package-level map, so the servers of earlier tests, and of earlier
// runs with -count, stay in the heap.
func heapGrowth(h, base uint64) uint64 {
	if h < base {
		return 0
	}
	return h - base
}

// fullBacklogListener returns the address of a listening socket with a
// backlog of 0 whose queue is already full, so that new connections hang in
// SYN_SENT: a connect timeout without leaving 127.0.0.1.
func fullBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	// Fill the accept queue (backlog 0 still admits one) and then some.
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", addr, 100e6)
		if err != nil {
			break
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	return addr
}
