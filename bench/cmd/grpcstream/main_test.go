package main

import (
	"net"
	"testing"
	"time"
)

// TestRun: the server echoes, the client measures (directly, no proxy).
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	go func() { _ = run(addr, "", 0, 0, 0) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = run("", addr, 200*time.Millisecond, 10, 32)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
}
