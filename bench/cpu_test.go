package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		ppid     int
		cpu      time.Duration
		wantFail bool
	}{
		{name: "plain", in: "42 (nginx) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0",
			ppid: 1, cpu: 3 * time.Second},
		{name: "name with spaces and parens", in: "7 (a) b (c)) R 3 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0",
			ppid: 3, cpu: 30 * time.Millisecond},
		{name: "no name", in: "7 a R 3", wantFail: true},
		{name: "truncated", in: "7 (x) R 3 7 7", wantFail: true},
		{name: "not numbers", in: "7 (x) R p 7 7 0 -1 0 0 0 0 0 u s 0 0", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if tt.wantFail {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ppid != tt.ppid || got.cpu != tt.cpu {
				t.Errorf("got ppid %d cpu %v, want %d %v", got.ppid, got.cpu, tt.ppid, tt.cpu)
			}
		})
	}
}

func TestTreeCPUCountsChildren(t *testing.T) {
	p, err := startProcess("sleep", t.TempDir()+"/log", nil, "sh", "-c", "sleep 5 & sleep 5; wait")
	if err != nil {
		t.Skip("no sh:", err)
	}
	defer p.stop(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, n, err := treeCPU(p.pid())
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 { // sh and its two sleeps
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %d processes, want 3", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTreeCPUMissingProcess(t *testing.T) {
	if _, _, err := treeCPU(1 << 30); err == nil {
		t.Error("want an error for a pid that does not exist")
	}
}

func TestMachineBusy(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat")
	}
	a, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	b, err := machineBusy()
	if err != nil {
		t.Fatal(err)
	}
	if a <= 0 || b < a {
		t.Errorf("machineBusy went %v then %v", a, b)
	}
}

func TestCPUsExist(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{{"0", true}, {"0-0", true}, {"0,0", true}, {"1-0", false}, {"x", false}, {"", false}, {"-1", false}, {"100000", false}} {
		if got := cpusExist(tt.in); got != tt.want {
			t.Errorf("cpusExist(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseCPUPressure(t *testing.T) {
	in := "some avg10=80.50 avg60=73.57 avg300=64.01 total=2513272093\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	if got := parseCPUPressure([]byte(in)); got < 0.7356 || got > 0.7358 {
		t.Errorf("parseCPUPressure = %v, want 0.7357", got)
	}
	if got := parseCPUPressure([]byte("junk")); got != -1 {
		t.Errorf("parseCPUPressure(junk) = %v, want -1", got)
	}
}
