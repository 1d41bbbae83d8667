//! `gomon-simulator --listen 127.0.0.1:20000 --count N [--log FILE]`: serves
//! N simulated Go programs on consecutive loopback ports until SIGTERM or
//! SIGINT, printing `ready N` on stdout once every port is bound; with
//! `--log FILE` it then writes every request it answered (see
//! `gomon_simulator::Simulator::write_log`).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use gomon_simulator::{Options, Simulator};

const USAGE: &str = "usage: gomon-simulator --listen IP:PORT --count N [--log FILE] [--threads N]";

struct Args {
    options: Options,
    log: Option<std::path::PathBuf>,
    threads: usize,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen: Option<SocketAddr> = None;
    let mut count: Option<u16> = None;
    let mut log = None;
    let mut threads = 1;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value()?;
                listen = Some(v.parse().map_err(|e| format!("--listen {v}: {e}"))?);
            }
            "--count" => {
                let v = value()?;
                count = Some(v.parse().map_err(|e| format!("--count {v}: {e}"))?);
            }
            "--threads" => {
                let v = value()?;
                threads = v.parse().map_err(|e| format!("--threads {v}: {e}"))?;
            }
            "--log" => log = Some(value()?.into()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        options: Options {
            first: listen.ok_or(format!("--listen is required\n{USAGE}"))?,
            count: count.ok_or(format!("--count is required\n{USAGE}"))?,
            log: log.is_some(),
        },
        log,
        threads: threads.max(1),
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("gomon-simulator: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build();
    let result = runtime.and_then(|runtime| runtime.block_on(run(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gomon-simulator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let simulator = Simulator::start(args.options).await?;
    #[allow(clippy::print_stdout)] // The one line a driving script waits for.
    {
        println!("ready {}", simulator.addrs().len());
    }
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("gomon-simulator: {} requests answered", simulator.served());
    if let Some(path) = &args.log {
        let mut file = std::fs::File::create(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        simulator.write_log(&mut file)?;
    }
    Ok(())
}
