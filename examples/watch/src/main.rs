//! Watches one Go process through its expvar endpoint: every second, its
//! heap in use (`HeapAlloc`), completed GC cycles (`NumGC`) and how long the
//! fetch took, for a number of seconds.
//!
//! ```sh
//! cargo run -p gomon-example-watch -- 127.0.0.1:6060 10
//! cargo run -p gomon-example-watch -- https://user:pass@svc.internal:8443/debug/vars 30
//! ```
//!
//! The recipe for a Rust program that embeds the client: one
//! [`ExpvarClient`] (it owns the connection pool), a [`Target`] parsed from
//! what the user typed, and a fetch per tick. A failed fetch is reported and
//! the watch goes on, as a monitor should.

#![allow(
    clippy::print_stdout,
    reason = "printing the readings is what this program is for"
)]

use std::process::ExitCode;
use std::time::Duration;

use gomon_expvar::{ClientConfig, ExpvarClient, Target};
use tokio::time::{Instant, MissedTickBehavior};

const USAGE: &str = "usage: watch HOST:PORT|URL [SECONDS (default 10)]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(target_text) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let seconds: u64 = match args.next().map(|s| s.parse()) {
        None => 10,
        Some(Ok(seconds)) => seconds,
        Some(Err(_)) => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let target = match Target::parse(&target_text) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let client = ExpvarClient::new(ClientConfig::default());

    println!("watching {target} for {seconds} s");
    println!(
        "{:>6}  {:>14}  {:>8}  {:>10}",
        "t (s)", "HeapAlloc (B)", "NumGC", "fetch"
    );
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    // A slow fetch delays the next tick instead of causing a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failures = 0u64;
    for _ in 0..seconds {
        ticks.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        match client.fetch(&target).await {
            Ok(snapshot) => {
                let memstat = |name: &str| {
                    snapshot
                        .memstats()
                        .and_then(|m| m.get(name))
                        .and_then(|v| v.as_u64())
                };
                let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                println!(
                    "{elapsed:>6.1}  {:>14}  {:>8}  {:>10.1?}",
                    show(memstat("HeapAlloc")),
                    show(memstat("NumGC")),
                    snapshot.duration(),
                );
            }
            Err(error) => {
                failures += 1;
                println!("{elapsed:>6.1}  fetch failed: {error}");
            }
        }
    }
    if failures == seconds && seconds > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
