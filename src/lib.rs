//! End-to-end tests live in `tests/` and runnable examples in `examples/`.
//!
//! The README's Rust quick start is compiled here as a doc test, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
