// Command steady is a well-behaved service: it does a constant amount of
// work with a bounded working set, so its live heap stays flat.
package main

import (
	"context"
	"flag"
	"math/rand"
	"time"

	"gomon.example/goapps/internal/demo"
)

// Two knobs to make "another release" of the same service, for comparing
// versions: more allocation per unit of work, or a small leak.
var (
	extraAlloc = flag.Int("extra-alloc-pct", 0, "allocate this much more per item, as short-lived garbage (percent)")
	leakBytes  = flag.Int("leak-bytes", 0, "bytes kept forever every 100 ms")
)

// sink keeps the extra allocations on the heap (the compiler would put an
// unused buffer on the stack).
var sink []byte

func main() {
	svc, addr := demo.Setup("steady")
	var kept [][]byte
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			if *leakBytes > 0 {
				kept = append(kept, make([]byte, *leakBytes))
			}
		}
	}()
	// A fixed-size ring of buffers: memory is reused, never accumulated.
	ring := make([][]byte, 256)
	i := 0
	svc.Serve(*addr, func(ctx context.Context) {
		demo.Every(ctx, 10*time.Millisecond, func() {
			start := time.Now()
			items := int64(1 + rand.Intn(20))
			for n := int64(0); n < items; n++ {
				ring[i%len(ring)] = make([]byte, 4096)
				if *extraAlloc > 0 {
					sink = make([]byte, 4096**extraAlloc/100)
				}
				i++
			}
			svc.CacheSize(int64(len(ring)))
			svc.Work(items, time.Since(start))
		})
	})
}
