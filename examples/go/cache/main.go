// Command cache fills an in-memory cache up to a bound and then only
// replaces entries: the live heap grows for a while, then levels off. A
// monitor must call this a plateau, not a leak.
package main

import (
	"context"
	"flag"
	"time"

	"gomon.example/goapps/internal/demo"
)

var (
	entries  = flag.Int("entries", 400, "cache capacity (entries)")
	entryKB  = flag.Int("entry-kb", 64, "size of one entry (KiB)")
	fillTime = flag.Duration("fill", 20*time.Second, "time to fill the cache")
)

// garbage is package-level so that the compiler cannot keep the request
// buffers on the stack: they must be collected from the heap.
var garbage []byte

func main() {
	svc, addr := demo.Setup("cache")
	cache := make([][]byte, 0, *entries)
	next := 0
	interval := *fillTime / time.Duration(*entries)
	if interval <= 0 {
		interval = time.Millisecond
	}
	svc.Serve(*addr, func(ctx context.Context) {
		demo.Every(ctx, interval, func() {
			start := time.Now()
			entry := make([]byte, *entryKB<<10)
			if len(cache) < *entries {
				cache = append(cache, entry)
			} else {
				// Full: evict the oldest, so the working set stays bounded.
				cache[next%len(cache)] = entry
				next++
			}
			// Request garbage (about 10 MB/s), so the heap saw-tooths and
			// the collector runs every few seconds, as in a real service.
			for j := 0; j < 32; j++ {
				garbage = make([]byte, 16<<10)
			}
			svc.CacheSize(int64(len(cache)))
			svc.Work(1, time.Since(start))
		})
	})
}
