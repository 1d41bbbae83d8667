// Command steady is a well-behaved service: it does a constant amount of
// work with a bounded working set, so its live heap stays flat.
package main

import (
	"context"
	"math/rand"
	"time"

	"gomon.example/goapps/internal/demo"
)

func main() {
	svc, addr := demo.Setup("steady")
	// A fixed-size ring of buffers: memory is reused, never accumulated.
	ring := make([][]byte, 256)
	i := 0
	svc.Serve(*addr, func(ctx context.Context) {
		demo.Every(ctx, 10*time.Millisecond, func() {
			start := time.Now()
			items := int64(1 + rand.Intn(20))
			for n := int64(0); n < items; n++ {
				ring[i%len(ring)] = make([]byte, 4096)
				i++
			}
			svc.CacheSize(int64(len(ring)))
			svc.Work(items, time.Since(start))
		})
	})
}
