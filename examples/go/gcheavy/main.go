// Command gcheavy allocates short-lived garbage at a high rate with a low
// GOGC, so it runs many GC cycles per second (more than 256 between two
// fetches 10 s apart) and spends a visible fraction of its CPU in GC. It
// also forces a collection every second (NumForcedGC).
package main

import (
	"context"
	"flag"
	"runtime"
	"runtime/debug"
	"time"

	"gomon.example/goapps/internal/demo"
)

var (
	gcPercent = flag.Int("gogc", 10, "GC percent (runtime/debug.SetGCPercent)")
	forceGC   = flag.Duration("force-gc", time.Second, "interval of forced collections (runtime.GC), 0 for none")
)

func main() {
	svc, addr := demo.Setup("gcheavy")
	debug.SetGCPercent(*gcPercent)
	// A small live set that the collector must trace on every cycle.
	live := make([][]byte, 512)
	for i := range live {
		live[i] = make([]byte, 1024)
	}
	var sink []byte
	svc.Serve(*addr, func(ctx context.Context) {
		if *forceGC > 0 {
			// Forced cycles show up in NumForcedGC, apart from the paced ones.
			go demo.Every(ctx, *forceGC, runtime.GC)
		}
		demo.Every(ctx, 5*time.Millisecond, func() {
			start := time.Now()
			for j := 0; j < 64; j++ {
				sink = make([]byte, 16<<10)
				sink[0] = byte(j)
			}
			svc.CacheSize(int64(len(live)))
			svc.Work(64, time.Since(start))
		})
	})
	_ = sink
}
