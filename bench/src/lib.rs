//! Benchmarks live in `src/bin/`; see `bench/README.md`.
