// Command churnleak hides a small leak under heavy churn: it allocates and
// drops lots of short-lived memory (the heap saw-tooths by megabytes) while
// keeping a few hundred bytes per request forever. Raw HeapAlloc looks
// noisy and flat; the troughs of the heap rise slowly.
package main

import (
	"context"
	"flag"
	"time"

	"gomon.example/goapps/internal/demo"
)

var leakBytes = flag.Int("leak-bytes", 2048, "bytes kept forever every 10 ms")

func main() {
	svc, addr := demo.Setup("churnleak")
	var kept [][]byte
	var sink []byte
	svc.Serve(*addr, func(ctx context.Context) {
		demo.Every(ctx, 10*time.Millisecond, func() {
			start := time.Now()
			// Churn: about 1.5 MB of garbage per tick.
			for j := 0; j < 24; j++ {
				sink = make([]byte, 64<<10)
				sink[0] = byte(j)
			}
			// The leak: a small record per request, never released.
			kept = append(kept, make([]byte, *leakBytes))
			svc.CacheSize(int64(len(kept)))
			svc.Work(24, time.Since(start))
		})
	})
	_ = sink
}
