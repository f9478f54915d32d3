package h2

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// The static table against x/net's decoder: index i decodes to entry i.
func TestStaticTable(t *testing.T) {
	for i := range staticTable {
		fs, err := hpack.NewDecoder(4096, nil).DecodeFull([]byte{0x80 | byte(i+1)})
		if err != nil || len(fs) != 1 || fs[0].Name != staticTable[i][0] || fs[0].Value != staticTable[i][1] {
			t.Errorf("entry %d: %q, x/net says %+v %v", i+1, staticTable[i], fs, err)
		}
		if j := staticNameIndex([]byte(staticTable[i][0])); staticTable[j-1][0] != staticTable[i][0] || j > i+1 {
			t.Errorf("staticNameIndex(%q) = %d", staticTable[i][0], j)
		}
	}
}

// Random header lists encoded by x/net (dynamic table, Huffman, evictions,
// size updates) decode to the same fields.
func TestDecodeAgainstXNet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var d decoder
	d.init(4096)
	l := fieldList{buf: make([]byte, 0, 1<<20), fields: make([]Field, 0, 1000), max: 1 << 20}
	names := []string{":path", "cookie", "x-a", "user-agent", "accept", "x-request-id", "content-type"}
	for block := range 2000 {
		buf.Reset()
		if block%97 == 0 {
			sz := uint32(rng.IntN(4097))
			enc.SetMaxDynamicTableSizeLimit(4096)
			enc.SetMaxDynamicTableSize(sz)
		}
		var want []hpack.HeaderField
		for range rng.IntN(12) {
			f := hpack.HeaderField{Name: names[rng.IntN(len(names))], Value: strings.Repeat(strconv.Itoa(rng.IntN(50)), rng.IntN(40))}
			if rng.IntN(5) == 0 {
				f.Name = "x-" + strconv.Itoa(rng.IntN(1000))
			}
			f.Sensitive = rng.IntN(10) == 0
			want = append(want, f)
			enc.WriteField(f)
		}
		l.reset(false)
		if err := d.decode(buf.Bytes(), &l); err != nil {
			t.Fatalf("block %d: %v", block, err)
		}
		if len(l.fields) != len(want) {
			t.Fatalf("block %d: %d fields, want %d", block, len(l.fields), len(want))
		}
		for i, f := range l.fields {
			if string(f.Name) != want[i].Name || string(f.Value) != want[i].Value {
				t.Fatalf("block %d field %d: %s: %s, want %+v", block, i, f.Name, f.Value, want[i])
			}
		}
	}
}

// What the encoder writes, x/net decodes to the same fields.
func TestEncodeAgainstXNet(t *testing.T) {
	var e encoder
	for _, st := range []int{200, 204, 103, 431, 599} {
		e.reset()
		e.status(st)
		e.field([]byte("content-type"), []byte("text/html; charset=utf-8"))
		e.field([]byte("x-long-custom-name"), []byte(strings.Repeat("v", 200)))
		e.field([]byte("set-cookie"), []byte("a=b; Path=/; HttpOnly"))
		e.field([]byte("x-empty"), nil)
		fs, err := hpack.NewDecoder(4096, nil).DecodeFull(e.buf)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, f := range fs {
			got += f.Name + "=" + f.Value + "\n"
		}
		want := ":status=" + strconv.Itoa(st) + "\ncontent-type=text/html; charset=utf-8\nx-long-custom-name=" +
			strings.Repeat("v", 200) + "\nset-cookie=a=b; Path=/; HttpOnly\nx-empty=\n"
		if got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}
}

// Undecodable blocks are errors, never panics.
func TestDecodeErrors(t *testing.T) {
	for _, b := range [][]byte{
		{0x80},              // index 0
		{0x80 | 0x7f, 0x80}, // truncated integer
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // index past 2^32
		{0xbe},                   // dynamic index 62, empty table
		{0x40, 0x05, 'a'},        // string shorter than its length
		{0x40, 0x00, 0x00},       // empty literal name
		{0x82, 0x20},             // size update after a field
		{0x3f, 0xe2, 0x1f},       // size update to 4097, above the limit
		{0x40, 0x81, 0xff, 0x00}, // Huffman: EOS padding longer than 7 bits
	} {
		var d decoder
		d.init(4096)
		l := fieldList{buf: make([]byte, 0, 100), fields: make([]Field, 0, 10), max: 1000}
		if err := d.decode(b, &l); err == nil {
			t.Errorf("% x decoded", b)
		}
	}
}

// The dynamic table evicts oldest first and keeps its bytes compact.
func TestTableEviction(t *testing.T) {
	var tb table
	tb.max = 200
	for i := range 100 {
		tb.add([]byte("name"+strconv.Itoa(i)), []byte(strings.Repeat("v", i%20)))
		if tb.size > tb.max {
			t.Fatalf("size %d > %d", tb.size, tb.max)
		}
		n, v, ok := tb.at(1)
		if !ok || string(n) != "name"+strconv.Itoa(i) || len(v) != i%20 {
			t.Fatalf("newest entry after %d: %q %q", i, n, v)
		}
	}
	if cap(tb.data) > 2*200 {
		t.Errorf("data grew to %d", cap(tb.data))
	}
	tb.add([]byte("huge"), make([]byte, 300)) // larger than the table: empties it
	if tb.n != 0 || tb.size != 0 {
		t.Errorf("%d entries, size %d after an oversized add", tb.n, tb.size)
	}
}

// The byte classes against their definitions.
func TestByteClasses(t *testing.T) {
	for c := 0; c < 256; c++ {
		tchar := c > 0x20 && c < 0x7f && !strings.ContainsRune("\"(),/:;<=>?@[\\]{}", rune(c))
		if lowerTchar[c] != (tchar && !('A' <= c && c <= 'Z')) {
			t.Errorf("lowerTchar[%#x] = %v", c, lowerTchar[c])
		}
		if badValue[c] != (c < 0x20 && c != '\t' || c == 0x7f) {
			t.Errorf("badValue[%#x] = %v", c, badValue[c])
		}
	}
}
