//! End-to-end tests: one binary (STYLE.md §8).
