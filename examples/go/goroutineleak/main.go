// Command goroutineleak is a service that leaks goroutines: every unit of
// work starts a goroutine that waits for a reply nobody ever sends, so the
// goroutine count climbs under a steady load while the heap grows only by
// the goroutines' small stacks. MemStats has no goroutine count: only the
// goroutine profile (/debug/pprof/goroutine) shows this leak.
package main

import (
	"context"
	"flag"
	"time"

	"gomon.example/goapps/internal/demo"
)

var perSecond = flag.Int("leaks-per-second", 20, "goroutines started (and never finished) per second")

// sink keeps the short-lived buffers on the heap.
var sink []byte

// awaitReply blocks until a reply arrives on reply; nothing ever sends one,
// so every goroutine running it is leaked.
func awaitReply(reply <-chan []byte) {
	sink = <-reply
}

func main() {
	svc, addr := demo.Setup("goroutineleak")
	svc.Serve(*addr, func(ctx context.Context) {
		every := time.Second / time.Duration(max(*perSecond, 1))
		demo.Every(ctx, every, func() {
			start := time.Now()
			reply := make(chan []byte)
			go awaitReply(reply)
			// Steady, bounded garbage: the heap itself does not leak.
			for j := 0; j < 8; j++ {
				sink = make([]byte, 4096)
			}
			svc.Work(1, time.Since(start))
		})
	})
}
