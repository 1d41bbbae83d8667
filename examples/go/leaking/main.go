// Command leaking is a service with a memory leak: every unit of work adds
// an entry to a map that is never pruned, so the live heap (and the GC
// limit NextGC) keeps rising, the pattern gomon analyze must call a leak.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"gomon.example/goapps/internal/demo"
)

var (
	leakRate  = flag.Int("leak-bytes", 64<<10, "bytes leaked every 100 ms")
	garbageKB = flag.Int("garbage-kb", 128, "short-lived garbage allocated every 100 ms, in KiB")
	ballastMB = flag.Int("ballast-mb", 0, "MiB held live from the start: a program that already holds a large heap (GC cycles then come minutes apart)")
)

// ballast is package-level so that it stays reachable for the whole run.
var ballast []byte

// garbage is package-level so that the compiler cannot keep the short-lived
// buffers on the stack: they must be collected from the heap.
var garbage []byte

func main() {
	svc, addr := demo.Setup("leaking")
	// Pointer-free, so marking it is cheap, and never written, so the
	// pages it takes stay untouched: it counts in the live heap (HeapAlloc,
	// NextGC) without costing the machine its size in RSS.
	ballast = make([]byte, *ballastMB<<20)
	sessions := map[string][]byte{}
	n := 0
	svc.Serve(*addr, func(ctx context.Context) {
		demo.Every(ctx, 100*time.Millisecond, func() {
			start := time.Now()
			n++
			// The leak: sessions are stored and never expired.
			sessions[fmt.Sprintf("session-%d", n)] = make([]byte, *leakRate)
			// Some short-lived garbage too, so the heap saw-tooths.
			for j := 0; j < *garbageKB/8; j++ {
				garbage = make([]byte, 8192)
			}
			svc.CacheSize(int64(len(sessions)))
			svc.Work(1, time.Since(start))
		})
	})
}
