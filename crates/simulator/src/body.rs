//! One simulated program: its behaviour, and its `/debug/vars` body at a
//! given moment.

use std::io::Write;
use std::time::Duration;

const MB: f64 = 1024.0 * 1024.0;

/// Go's first 61 size classes, as `MemStats.BySize` lists them.
const SIZE_CLASSES: [u32; 61] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432,
];

/// What a simulated program's heap does over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// A constant live heap (seven programs in ten).
    Steady,
    /// The live heap grows by 2 MB a minute.
    Leaking,
    /// The live heap fills a cache over a few minutes, then levels off.
    Cache,
    /// A small live heap and a high allocation rate: GC cycles many times a second.
    GcHeavy,
}

impl Behaviour {
    fn name(self) -> &'static str {
        match self {
            Self::Steady => "steady",
            Self::Leaking => "leaking",
            Self::Cache => "cache",
            Self::GcHeavy => "gcheavy",
        }
    }
}

/// One simulated Go program, its parameters drawn from its index.
#[derive(Debug, Clone)]
pub struct Program {
    index: u32,
    behaviour: Behaviour,
    /// Live heap at the start, bytes.
    live: f64,
    /// Allocation rate, bytes per second.
    rate: f64,
    /// How long the program had been up when the simulator started.
    age: f64,
}

/// SplitMix64: a well-mixed number from a seed, so parameters and pauses
/// look random but are the same in every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A number in `[low, high)` drawn from `seed`.
fn between(seed: u64, low: f64, high: f64) -> f64 {
    low + (high - low) * ((seed >> 11) as f64 / (1u64 << 53) as f64)
}

#[allow(clippy::write_with_newline)] // Go's layout: one variable per line.
impl Program {
    /// The program numbered `index` (its port's offset).
    pub fn new(index: u32) -> Self {
        let seed = mix(u64::from(index));
        let behaviour = match seed % 10 {
            7 => Behaviour::Leaking,
            8 => Behaviour::Cache,
            9 => Behaviour::GcHeavy,
            _ => Behaviour::Steady,
        };
        let (live, rate) = match behaviour {
            Behaviour::GcHeavy => (
                between(mix(seed ^ 1), 2.0, 4.0) * MB,
                between(mix(seed ^ 2), 40.0, 80.0) * MB,
            ),
            _ => (
                between(mix(seed ^ 1), 4.0, 64.0) * MB,
                between(mix(seed ^ 2), 1.0, 8.0) * MB,
            ),
        };
        Self {
            index,
            behaviour,
            live,
            rate,
            age: between(mix(seed ^ 3), 60.0, 3600.0),
        }
    }

    /// What this program's heap does.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour
    }

    /// The live heap (bytes) `uptime` seconds after the program started.
    fn live_at(&self, uptime: f64) -> f64 {
        match self.behaviour {
            Behaviour::Steady | Behaviour::GcHeavy => self.live,
            Behaviour::Leaking => self.live + 2.0 * MB * uptime / 60.0,
            Behaviour::Cache => self.live + 96.0 * MB * (1.0 - (-uptime / 120.0).exp()),
        }
    }

    /// The pause of GC cycle `k`, nanoseconds (50–450 µs).
    fn pause(&self, k: u64) -> u64 {
        50_000 + mix(u64::from(self.index) << 32 ^ k) % 400_000
    }

    /// Appends the `/debug/vars` body `elapsed` after the simulator started
    /// (`started_unix_ns`), as Go's expvar handler writes it.
    pub fn write_body(
        &self,
        elapsed: Duration,
        started_unix_ns: u64,
        port: u16,
        out: &mut Vec<u8>,
    ) {
        let uptime = self.age + elapsed.as_secs_f64();
        let live = self.live_at(uptime);
        let total_alloc = self.rate * uptime;
        // GOGC=100: a cycle every `live / rate` seconds (NextGC = 2 × live),
        // the starting live heap's, so the count only ever grows while the
        // heap reached at a cycle stays below NextGC.
        let cycle = self.live / self.rate;
        let num_gc = (uptime / cycle) as u64;
        let last_gc_uptime = num_gc as f64 * cycle;
        let heap_alloc = live + self.rate * (uptime - last_gc_uptime);
        let born_unix_ns = started_unix_ns as f64 - self.age * 1e9;
        let gc_unix_ns = |k: u64| (born_unix_ns + k as f64 * cycle * 1e9) as u64;
        let heap_sys = ((2.2 * live) as u64).next_multiple_of(8192);
        let heap_inuse = ((1.08 * heap_alloc) as u64).next_multiple_of(8192);
        let heap_idle = heap_sys.saturating_sub(heap_inuse);
        let mallocs = (total_alloc / 48.0) as u64;
        let objects = (heap_alloc / 48.0) as u64;
        let pause_total = num_gc * 250_000;
        let name = self.behaviour.name();

        // Go's expvar handler: "{\n", then `"key": value` joined by ",\n",
        // keys in order, then "\n}\n". The writes go to a Vec: they cannot fail.
        let w = out;
        let _ = write!(
            w,
            "{{\n\"app.name\": \"{name}\",\n\"app.version\": \"1.4.0\",\n"
        );
        let _ = write!(
            w,
            "\"cmdline\": [\"./{name}\",\"-addr\",\"127.0.0.1:{port}\",\"-version\",\"1.4.0\"],\n"
        );
        let _ = write!(
            w,
            "\"latency_ms\": {:.3},\n",
            0.02 + (mix(num_gc) % 1000) as f64 / 10_000.0
        );
        let _ = write!(w, "\"memstats\": {{\"Alloc\":{},", heap_alloc as u64);
        let _ = write!(
            w,
            "\"TotalAlloc\":{},\"Sys\":{},\"Lookups\":0,\"Mallocs\":{mallocs},\"Frees\":{},",
            total_alloc as u64,
            heap_sys + 9 * 1024 * 1024,
            mallocs - objects.min(mallocs)
        );
        let _ = write!(
            w,
            "\"HeapAlloc\":{},\"HeapSys\":{heap_sys},\"HeapIdle\":{heap_idle},\"HeapInuse\":{heap_inuse},\"HeapReleased\":{},\"HeapObjects\":{objects},",
            heap_alloc as u64,
            heap_idle / 2 / 8192 * 8192
        );
        let _ = write!(
            w,
            "\"StackInuse\":655360,\"StackSys\":655360,\"MSpanInuse\":{},\"MSpanSys\":{},\"MCacheInuse\":9664,\"MCacheSys\":15704,\"BuckHashSys\":1449000,\"GCSys\":{},\"OtherSys\":1302000,",
            heap_sys / 160,
            heap_sys / 128,
            heap_sys / 30
        );
        let _ = write!(
            w,
            "\"NextGC\":{},\"LastGC\":{},\"PauseTotalNs\":{pause_total},\"PauseNs\":[",
            (2.0 * live) as u64,
            if num_gc == 0 { 0 } else { gc_unix_ns(num_gc) }
        );
        // The rings: cycle k (1-based) sits at index (k + 255) % 256.
        let ring = |i: u64| -> Option<u64> {
            // The newest cycle stored at index i.
            let newest = num_gc.checked_sub((num_gc + 255 - i) % 256)?;
            (newest >= 1).then_some(newest)
        };
        for i in 0..256u64 {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(w, "{sep}{}", ring(i).map_or(0, |k| self.pause(k)));
        }
        let _ = write!(w, "],\"PauseEnd\":[");
        for i in 0..256u64 {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(w, "{sep}{}", ring(i).map_or(0, gc_unix_ns));
        }
        let _ = write!(
            w,
            "],\"NumGC\":{num_gc},\"NumForcedGC\":0,\"GCCPUFraction\":{},\"EnableGC\":true,\"DebugGC\":false,\"BySize\":[",
            pause_total as f64 / (uptime * 1e9 * 2.0)
        );
        for (i, size) in SIZE_CLASSES.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let share = (mallocs >> (i / 8 + 2)) / 4;
            let frees = share - (share >> 6);
            let _ = write!(
                w,
                "{sep}{{\"Size\":{size},\"Mallocs\":{share},\"Frees\":{frees}}}"
            );
        }
        let requests = (uptime * 100.0) as u64;
        let _ = write!(w, "]}},\n\"output.events.acked\": {},\n", requests * 10);
        let _ = write!(w, "\"requests\": {requests},\n");
        let _ = write!(
            w,
            "\"stats\": {{\"cache\": {{\"entries\": {}}}, \"work\": {{\"batches\": {requests}, \"items\": {}}}}},\n",
            (live / 4096.0) as u64,
            requests * 10
        );
        let _ = write!(w, "\"uptime_seconds\": {uptime:.6}\n}}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(program: &Program, seconds: f64) -> serde_json::Value {
        let mut out = Vec::new();
        program.write_body(
            Duration::from_secs_f64(seconds),
            1_800_000_000_000_000_000,
            20_000,
            &mut out,
        );
        serde_json::from_slice(&out).expect("the body is JSON")
    }

    #[test]
    fn bodies_are_go_shaped_and_advance() {
        for index in 0..200 {
            let program = Program::new(index);
            let a = body(&program, 10.0);
            let b = body(&program, 70.0);
            let (ma, mb) = (&a["memstats"], &b["memstats"]);
            assert_eq!(ma["PauseNs"].as_array().map(Vec::len), Some(256));
            assert_eq!(ma["PauseEnd"].as_array().map(Vec::len), Some(256));
            assert_eq!(ma["BySize"].as_array().map(Vec::len), Some(61));
            for counter in ["TotalAlloc", "Mallocs", "NumGC", "PauseTotalNs"] {
                assert!(
                    mb[counter].as_u64() > ma[counter].as_u64(),
                    "program {index}: {counter} did not advance: {} then {}",
                    ma[counter],
                    mb[counter]
                );
            }
            let (heap, next) = (mb["HeapAlloc"].as_u64(), mb["NextGC"].as_u64());
            assert!(
                heap <= next,
                "program {index}: HeapAlloc {heap:?} above NextGC {next:?}"
            );
            // The newest pause sits where Go puts cycle NumGC.
            let n = mb["NumGC"].as_u64().unwrap_or(0);
            let newest = mb["PauseEnd"][((n + 255) % 256) as usize].as_u64();
            assert_eq!(newest, mb["LastGC"].as_u64(), "program {index}");
        }
    }

    #[test]
    fn behaviours_differ_in_the_live_heap() {
        let find = |b: Behaviour| {
            (0..100)
                .map(Program::new)
                .find(|p| p.behaviour() == b)
                .expect("each behaviour among 100 programs")
        };
        let leaking = find(Behaviour::Leaking);
        let steady = find(Behaviour::Steady);
        let next_gc = |p: &Program, s: f64| body(p, s)["memstats"]["NextGC"].as_u64();
        assert!(next_gc(&leaking, 600.0) > next_gc(&leaking, 0.0));
        assert_eq!(next_gc(&steady, 600.0), next_gc(&steady, 0.0));
    }
}
