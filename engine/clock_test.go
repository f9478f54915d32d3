package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testsupport"
)

// loopClock is a loop clock that tests move (Server.monoClock): it stands
// still until Advance, so a timeout fires when the test says, at the next
// tick (Server.tickLoops), instead of after real time.
type loopClock struct{ ns atomic.Int64 }

func newLoopClock() *loopClock {
	c := new(loopClock)
	c.ns.Store(int64(time.Second)) // any origin; not 0, which some fields read as "never"
	return c
}

func (c *loopClock) now() int64 { return c.ns.Load() }

// Advance moves the clock forward by d.
func (c *loopClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// startServerLoopClock starts a server for cfg whose loops run on a
// loopClock (opts after a discarding logger). The wall clock (the cache's)
// is not affected.
func startServerLoopClock(t testing.TB, cfg *config.Config, opts ...Option) (*Server, *loopClock) {
	t.Helper()
	srv, err := New(cfg, append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	clk := newLoopClock()
	srv.monoClock = clk.now
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, clk
}

// tickLoops runs every loop's periodic tick (loop.Run, as OnTick schedules
// it) and returns once each has run. A loop is one goroutine, so the tick
// also runs after the callback that produced whatever the test has seen of
// the server: a deadline that callback armed is checked.
func (s *Server) tickLoops(t testing.TB) {
	t.Helper()
	s.onLoops(t, func(lp *loop) { _ = lp.Run(context.Background()) })
}

// onLoops runs f on every loop that has seen a connection and returns once
// each has run, or once the loops have stopped (a Shutdown the test runs
// may end meanwhile: then f may not run).
func (s *Server) onLoops(t testing.TB, f func(*loop)) {
	t.Helper()
	var loops []*loop
	s.loopsMap.Range(func(_, v any) bool {
		loops = append(loops, v.(*loop))
		return true
	})
	ran := make(chan struct{}, len(loops))
	want := 0
	for _, lp := range loops {
		err := lp.el.Execute(context.Background(), runnable(func() {
			f(lp)
			ran <- struct{}{}
		}))
		switch {
		case err == nil:
			want++
		case !errors.Is(err, errorx.ErrEngineInShutdown):
			t.Errorf("execute on a loop: %v", err)
		}
	}
	for ; want > 0; want-- {
		select {
		case <-ran:
		case <-s.done:
			return
		}
	}
}

// waitRead waits until the server has accepted c (its OnOpen ran, and with
// it the connection's first deadline, and ticks reach its loop, which may
// have had no connection before) and has read bytes from c that it holds
// unconsumed (a partial head): a header timeout then answers 408 rather
// than closing a connection that sent nothing.
func waitRead(t *testing.T, srv *Server, c net.Conn) {
	t.Helper()
	addr := c.LocalAddr().String()
	eventually(t, 5*time.Second, func() bool {
		var read atomic.Bool
		srv.onLoops(t, func(lp *loop) { // the loop's own state, read on the loop
			for _, h := range lp.downs {
				if h.c.RemoteAddr().String() == addr && h.c.InboundBuffered() > 0 {
					read.Store(true)
				}
			}
		})
		return read.Load()
	}, "the server read the partial head")
}

// waitHeard waits for a test upstream's signal that a request reached it.
func waitHeard(t testing.TB, heard <-chan struct{}) {
	t.Helper()
	select {
	case <-heard:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
}

// expire moves clk past d and ticks the loops: whatever was due within d
// from the last reading of the clock times out now.
func expire(t testing.TB, srv *Server, clk *loopClock, d time.Duration) {
	t.Helper()
	clk.Advance(d + time.Millisecond)
	srv.tickLoops(t)
}

// endLinger closes the client connections that linger after their last
// response (Connection: close, a rejection, a drain): a tick starts the
// linger of those whose output is out, and lingerTime later they close.
func endLinger(t testing.TB, srv *Server, clk *loopClock) {
	t.Helper()
	srv.tickLoops(t)
	expire(t, srv, clk, time.Duration(lingerTime))
}

// expireOn expires d (expire) each time a test upstream signals on ch
// that a request which will time out reached it, until the test ends.
func expireOn(t testing.TB, srv *Server, clk *loopClock, d time.Duration, ch <-chan struct{}) {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-ch:
				expire(t, srv, clk, d)
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-exited
	})
}

// pumpClock advances clk by step and ticks the loops every
// testsupport.PollInterval of real time until stop is called (or the test
// ends): a test waits for a timeout as it waits for anything else, while
// loop time runs step per poll. Start it once the server is where the
// timeout should find it, so that no other deadline, due later, runs out
// while a real-time step (a dial) is still under way.
func pumpClock(t testing.TB, srv *Server, clk *loopClock, step time.Duration) (stop func()) {
	t.Helper()
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		poll := time.NewTicker(testsupport.PollInterval)
		defer poll.Stop()
		for {
			clk.Advance(step)
			srv.tickLoops(t)
			select {
			case <-done:
				return
			case <-poll.C:
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			<-exited
		})
	}
	t.Cleanup(stop) // before the server's Close, registered earlier
	return stop
}
