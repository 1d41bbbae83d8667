//! End-to-end tests of gomon live in this package's test targets; see `docs/ARCHITECTURE.md`.
