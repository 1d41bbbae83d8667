//! `gomon`: monitors Go programs through their expvar endpoint.
//!
//! This binary is wiring only: it parses the command line and calls the
//! library crates under `crates/`.

fn main() {}
