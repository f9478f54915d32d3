package testsupport

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// RefusingAddr returns a 127.0.0.1 address that refuses connections for
// the whole test: a TCP socket bound to a port the kernel chose that never
// listens, so a connect gets RST at once. A port taken by net.Listen and
// closed again does not do this reliably: while the suite runs, another
// test may listen on it, and the connect then succeeds (a test expecting
// 502 for a refused connect saw 504 from a listener that never answered).
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}
