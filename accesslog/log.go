package accesslog

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Defaults and bounds of Options.
const (
	// MinBufferSize is the smallest Options.BufferSize: it holds the
	// largest possible record.
	MinBufferSize = 64 << 10
	// DefaultBufferSize is Options.BufferSize when zero.
	DefaultBufferSize = 64 << 10
	// DefaultSpares is Options.Spares when zero.
	DefaultSpares = 4
)

// Options configure a Log.
type Options struct {
	// Path is the file to append to (created 0644, opened O_APPEND).
	// Empty means Output.
	Path string
	// Output is written to when Path is empty; nil means os.Stdout. The
	// Log does not close it.
	Output io.Writer
	// Loops is the number of Buffers (one per event loop); at least 1.
	Loops int
	// BufferSize is the bytes of one buffer; 0 means DefaultBufferSize.
	BufferSize int
	// Spares is the number of buffers beyond one per loop, shared by all
	// loops through the free list; 0 means DefaultSpares.
	Spares int
	// Sample logs one request in Sample (counted per loop); 0 and 1 log
	// every request. Responses with a status >= 500 are always logged.
	Sample int
	// Off starts the Log disabled (Append returns at once); SetEnabled
	// turns it on.
	Off bool
	// Logger receives write and reopen errors; nil means slog.Default().
	Logger *slog.Logger
	// RedactQuery names the query parameters whose values are written as
	// Redacted ("access_token=<redacted>"): compared after percent-decoding,
	// ASCII case-insensitively. The gateway passes config's
	// AccessLog.Redacted; SetRedactQuery replaces the list.
	RedactQuery []string
}

// Log owns the writer goroutine, the file and the buffers. Its methods are
// safe for concurrent use; each Buffer belongs to one loop.
type Log struct {
	path   string
	out    io.Writer
	file   *os.File // non-nil when the Log opened Path
	logger *slog.Logger

	// every is the sampling divisor read by Append: 0 = off, 1 = all,
	// N = one in N. Written by SetSample and SetEnabled.
	every   atomic.Int32
	sample  atomic.Int32             // the divisor to restore on SetEnabled(true)
	redact  atomic.Pointer[[]string] // query parameter names, lower case (redact.go)
	bufs    []*Buffer
	full    chan []byte // loops -> writer; capacity: every buffer
	free    chan []byte // writer -> loops; capacity: every buffer, so the writer never blocks on it
	reopen  chan chan error
	done    chan struct{}
	closeMu sync.Mutex
	closed  bool

	writeErrors atomic.Uint64
	written     atomic.Uint64 // bytes
}

// Buffer is one loop's access-log buffer. Append and Flush must be called
// only by the owning loop; Dropped may be read from anywhere. A nil
// *Buffer is valid and logs nothing.
type Buffer struct {
	log     *Log
	cur     []byte // nil when no spare was free at the last hand-off
	records uint64 // records in cur
	n       int32  // requests since the last sampled one
	clock   clock

	// dropped is written by the owning loop and read by Log.Dropped.
	dropped atomic.Uint64
	// Every field above is written by the owning loop per request: the
	// padding makes a Buffer 128 bytes (its own size class, 64-byte
	// aligned) so that two loops' Buffers never share a cache line.
	_ [40]byte
}

// New opens the output and starts the writer goroutine.
func New(opts Options) (*Log, error) {
	if opts.Loops < 1 {
		opts.Loops = 1
	}
	if opts.BufferSize == 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.BufferSize < MinBufferSize {
		return nil, fmt.Errorf("%w: %d < %d", ErrBufferSize, opts.BufferSize, MinBufferSize)
	}
	if opts.Spares <= 0 {
		opts.Spares = DefaultSpares
	}
	l := &Log{
		path:   opts.Path,
		out:    opts.Output,
		logger: opts.Logger,
		reopen: make(chan chan error),
		done:   make(chan struct{}),
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.path != "" {
		f, err := openFile(l.path)
		if err != nil {
			return nil, err
		}
		l.file, l.out = f, f
	} else if l.out == nil {
		l.out = os.Stdout
	}
	total := opts.Loops + opts.Spares
	l.full = make(chan []byte, total)
	l.free = make(chan []byte, total)
	for i := 0; i < opts.Spares; i++ {
		l.free <- make([]byte, 0, opts.BufferSize)
	}
	l.bufs = make([]*Buffer, opts.Loops)
	for i := range l.bufs {
		l.bufs[i] = &Buffer{log: l, cur: make([]byte, 0, opts.BufferSize)}
	}
	l.SetSample(opts.Sample)
	l.SetEnabled(!opts.Off)
	l.SetRedactQuery(opts.RedactQuery)
	go l.run()
	return l, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	return f, nil
}

// Buffer returns loop i's Buffer.
func (l *Log) Buffer(i int) *Buffer { return l.bufs[i] }

// SetSample logs one request in n from now on (n < 1 means 1: all).
func (l *Log) SetSample(n int) {
	n = max(n, 1)
	n = min(n, 1<<30)
	l.sample.Store(int32(n))
	if l.every.Load() != 0 {
		l.every.Store(int32(n))
	}
}

// SetRedactQuery replaces Options.RedactQuery: the records appended from
// now on hide the values of these query parameters.
func (l *Log) SetRedactQuery(names []string) {
	lower := lowerNames(names)
	l.redact.Store(&lower)
}

// SetEnabled turns the access log on or off; off, Append returns at once.
func (l *Log) SetEnabled(on bool) {
	if on {
		l.every.Store(l.sample.Load())
	} else {
		l.every.Store(0)
	}
}

// Dropped returns the records dropped so far because the writer was behind
// (for hotpath_accesslog_dropped_total).
func (l *Log) Dropped() uint64 {
	var n uint64
	for _, b := range l.bufs {
		n += b.dropped.Load()
	}
	return n
}

// WriteErrors returns the failed writes so far.
func (l *Log) WriteErrors() uint64 { return l.writeErrors.Load() }

// Written returns the bytes written so far.
func (l *Log) Written() uint64 { return l.written.Load() }

// Reopen closes and reopens Path (after logrotate moved it away). It waits
// for the write in progress, if any. It does nothing when the Log writes to
// Output.
func (l *Log) Reopen() error {
	if l.path == "" {
		return nil
	}
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return ErrClosed
	}
}

// Close flushes every Buffer, waits until the writer has written
// everything, and closes the file it opened. The loops must have stopped
// calling Append and Flush: Close flushes their buffers itself.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	for _, b := range l.bufs {
		if len(b.cur) > 0 {
			l.full <- b.cur // blocking: the loops are stopped, the writer drains
			b.cur, b.records = nil, 0
		}
	}
	close(l.full)
	<-l.done
	if l.file != nil {
		return l.file.Close()
	}
	return nil
}

// run is the writer goroutine: it writes full buffers in order of arrival
// and returns them to the free list.
func (l *Log) run() {
	defer close(l.done)
	for {
		select {
		case b, ok := <-l.full:
			if !ok {
				return
			}
			l.write(b)
			l.free <- b[:0] // never blocks: free holds every buffer
		case reply := <-l.reopen:
			reply <- l.reopenFile()
		}
	}
}

func (l *Log) write(b []byte) {
	n, err := l.out.Write(b)
	l.written.Add(uint64(n))
	if err != nil {
		// Log the first failure and then every 1024th, not every buffer.
		if c := l.writeErrors.Add(1); c&(c-1) == 0 || c%1024 == 0 {
			l.logger.Error("access log write failed", "err", err, "failures", c)
		}
	}
}

func (l *Log) reopenFile() error {
	f, err := openFile(l.path)
	if err != nil {
		l.logger.Error("access log reopen failed; still writing to the old file", "path", l.path, "err", err)
		return err
	}
	old := l.file
	l.file, l.out = f, f
	return old.Close()
}

// Append adds r to the loop's buffer. It never blocks and does not
// allocate: when the buffer has no room it is handed to the writer, and if
// the writer is behind (no spare buffer, or its queue full) the records are
// dropped and counted instead.
func (b *Buffer) Append(r *Record) {
	if b == nil {
		return
	}
	every := b.log.every.Load()
	if every != 1 {
		if every == 0 {
			return
		}
		if r.Status < 500 {
			b.n++
			if b.n < every {
				return
			}
			b.n = 0
		}
	}
	if b.cur == nil || len(b.cur)+recordBound(r) > cap(b.cur) {
		if !b.rotate() {
			b.dropped.Add(1)
			return
		}
	}
	b.cur = appendRecord(b.cur, r, &b.clock, *b.log.redact.Load())
	b.records++
}

// rotate makes room: it hands cur to the writer and takes a spare. It
// reports whether cur now has room. When the writer's queue is full, the
// records in cur are dropped and cur is reused.
func (b *Buffer) rotate() bool {
	if len(b.cur) > 0 {
		select {
		case b.log.full <- b.cur:
			b.cur, b.records = nil, 0
		default:
			b.dropped.Add(b.records)
			b.cur, b.records = b.cur[:0], 0
			return true
		}
	}
	if b.cur == nil {
		select {
		case s := <-b.log.free:
			b.cur = s
		default:
			return false
		}
	}
	return true
}

// Flush hands the buffer's records to the writer if there are any, so that
// a quiet loop's lines reach the file within one tick. If the writer's
// queue is full it keeps them for the next Flush (or drops them if Append
// needs the room first). Call it from the loop's periodic tick.
func (b *Buffer) Flush() {
	if b == nil {
		return
	}
	if len(b.cur) > 0 {
		select {
		case b.log.full <- b.cur:
			b.cur, b.records = nil, 0
		default:
			return
		}
	}
	if b.cur == nil {
		select {
		case s := <-b.log.free:
			b.cur = s
		default:
		}
	}
}

// Dropped returns the records this Buffer dropped.
func (b *Buffer) Dropped() uint64 { return b.dropped.Load() }
