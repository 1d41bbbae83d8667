// Package demo holds what the example Go services share: flags, the
// /debug/vars endpoint with a set of custom expvar variables of every JSON
// shape gomon must handle, net/http/pprof's /debug/pprof/ profiles (unless
// -pprof=false), and a clean shutdown.
package demo

import (
	"context"
	"encoding/json"
	"expvar"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// BigCounter is a counter published above 2^53, where float64 loses
// precision: a monitor that decodes expvar numbers as float64 reports
// 9007199254740992 instead of 9007199254740993.
const BigCounter uint64 = 1<<53 + 1

// Service is one running example program and the variables it publishes.
type Service struct {
	Name    string
	Version string

	// Requests counts simulated units of work; a plain expvar.Int.
	Requests *expvar.Int
	// Acked is published under the dotted name "output.events.acked",
	// the way Beats publishes its own counters.
	Acked *expvar.Int
	// Latency is a float gauge of the last simulated request, in ms.
	Latency *expvar.Float
	// Stats is a nested map: {"work": {"batches": n, "items": n}, "cache": {...}}.
	Stats *expvar.Map

	work  *expvar.Map
	cache *expvar.Map
	start time.Time
}

// varsDelay holds every /debug/vars answer back (the -vars-delay flag).
var varsDelay time.Duration

// servePprof registers net/http/pprof's handlers (the -pprof flag).
var servePprof bool

// Setup parses the common flags (-addr, -version, -vars-delay, -pprof), registers the custom
// variables and returns the service. Call Serve afterwards.
func Setup(name string) (*Service, *string) {
	addr := flag.String("addr", "localhost:6060", "listen address of /debug/vars (use 127.0.0.1:0 for a free port)")
	version := flag.String("version", "1.0.0", "version reported in the app.version variable")
	flag.DurationVar(&varsDelay, "vars-delay", 0, "answer /debug/vars this much later (a slow target, for tests)")
	flag.BoolVar(&servePprof, "pprof", true, "serve net/http/pprof's profiles under /debug/pprof/ (false: a program without them, for tests)")
	flag.Parse()

	s := &Service{Name: name, Version: *version, start: time.Now()}
	expvar.NewString("app.name").Set(name)
	expvar.NewString("app.version").Set(*version)
	s.Requests = expvar.NewInt("requests")
	s.Acked = expvar.NewInt("output.events.acked")
	expvar.NewInt("output.events.not_acked")
	s.Latency = expvar.NewFloat("latency_ms")
	s.Stats = expvar.NewMap("stats")
	s.work = new(expvar.Map).Init()
	s.cache = new(expvar.Map).Init()
	s.Stats.Set("work", s.work)
	s.Stats.Set("cache", s.cache)
	expvar.Publish("big_counter", expvar.Func(func() any { return BigCounter }))
	expvar.Publish("uptime_seconds", expvar.Func(func() any { return time.Since(s.start).Seconds() }))
	expvar.Publish("healthy", expvar.Func(func() any { return true }))
	expvar.Publish("tags", expvar.Func(func() any { return []string{"example", name} }))
	expvar.Publish("last_error", expvar.Func(func() any { return nil }))
	return s, addr
}

// Work records one simulated batch of n items.
func (s *Service) Work(items int64, latency time.Duration) {
	s.Requests.Add(1)
	s.Acked.Add(items)
	s.work.Add("batches", 1)
	s.work.Add("items", items)
	s.Latency.Set(float64(latency.Microseconds()) / 1000)
}

// CacheSize publishes the number of entries a service keeps alive.
func (s *Service) CacheSize(n int64) {
	v := new(expvar.Int)
	v.Set(n)
	s.cache.Set("entries", v)
}

// Serve listens on addr, prints "listening on HOST:PORT" on stdout (tests
// read that line to learn the port), runs loop until SIGINT/SIGTERM and then
// shuts the server down.
func (s *Service) Serve(addr string, loop func(ctx context.Context)) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("%s: listen on %s: %v", s.Name, addr, err)
	}
	// Count the requests to /debug/vars themselves, so that a test can
	// check how often a monitor fetches (one fetch per period, not one per
	// metric set).
	varsRequests := expvar.NewInt("debug_vars.requests")
	vars := expvar.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		varsRequests.Add(1)
		time.Sleep(varsDelay)
		vars.ServeHTTP(w, r)
	})
	if servePprof {
		// What `import _ "net/http/pprof"` registers on the default mux,
		// registered on this one.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "app": s.Name})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on %s\n", ln.Addr())
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go loop(ctx)
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Fatalf("%s: serve: %v", s.Name, err)
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
}

// Every calls f every d until ctx ends.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
