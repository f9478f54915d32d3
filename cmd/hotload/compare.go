package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hotpath/hotpath/loadgen"
)

// readReports reads JSON reports named by paths.
func readReports(paths []string) ([]*loadgen.Result, error) {
	var out []*loadgen.Result
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		r, err := loadgen.ReadJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// warnMismatch says on stderr how the runs differ in URL, duration or
// rate: their figures then compare or merge unlike things.
func warnMismatch(paths []string, rs []*loadgen.Result, stderr io.Writer) {
	for _, m := range loadgen.Mismatch(paths, rs) {
		fmt.Fprintln(stderr, "hotload: warning:", m)
	}
	for i, r := range rs {
		if r.Interrupted {
			fmt.Fprintf(stderr, "hotload: warning: %s was interrupted after %v\n", paths[i], r.Elapsed.Round(10*time.Millisecond))
		}
	}
}

// compare is `hotload compare A.json B.json`.
func compare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "hotload: usage: hotload compare A.json B.json")
		return exitUsage
	}
	rs, err := readReports(args)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	warnMismatch(args, rs, stderr)
	if err := loadgen.Compare(stdout, args[0], args[1], rs[0], rs[1]); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	return exitOK
}

// merge is `hotload merge A.json B.json... [--json OUT] [--hgrm OUT]`.
func merge(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("hotload merge")
	jsonOut := fs.String("json", "", "write the merged report to FILE")
	hgrmOut := fs.String("hgrm", "", "write the merged corrected distribution in .hgrm format to FILE")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		fmt.Fprintln(stderr, "hotload merge:", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "hotload: usage: hotload merge A.json B.json... [--json OUT]")
		return exitUsage
	}
	rs, err := readReports(paths)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	warnMismatch(paths, rs, stderr)
	m, err := loadgen.Merge(rs...)
	if err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	if err := loadgen.WriteSummary(stdout, m); err != nil {
		fmt.Fprintln(stderr, "hotload:", err)
		return exitRun
	}
	return writeOutputs(m, *jsonOut, *hgrmOut, stderr)
}
