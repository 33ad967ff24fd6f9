//! Fuzzing on stable Rust (issue 25): nothing the network sends may panic, abort or allocate
//! without bound. Every wire parser (market streams, user streams and WebSocket-API answers,
//! REST answers, status and headers, server time) is fed the real recorded messages of
//! tests/fixtures/real, mutated by structure and as raw text; every venue's book sync rule is
//! driven through sequences of updates, snapshots and restarts with hostile ids and levels.
//!
//! A malformed input must be a typed `Err` (or a counted skip); what is read must satisfy what
//! the code downstream of it assumes (the properties below say which).
//!
//! Cases per property: `TRADEWIRE_FUZZ_CASES` (default [`DEFAULT_CASES`], what `make check`
//! runs); `make fuzz` runs many more. A failing case is written under
//! `rust/core/proptest-regressions/fuzz/` and replayed first on every later run.

mod corpus;
mod mutate;
mod rest;
mod sync;
mod wire;

use std::sync::OnceLock;

use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases per property when `TRADEWIRE_FUZZ_CASES` is not set: the whole binary runs in a few
/// seconds in release, so `make check` always fuzzes a little.
pub const DEFAULT_CASES: u32 = 4_000;

fn cases() -> u32 {
    static CASES: OnceLock<u32> = OnceLock::new();
    *CASES.get_or_init(|| {
        std::env::var("TRADEWIRE_FUZZ_CASES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_CASES)
    })
}

/// One property's proptest configuration; `regressions` is its file under
/// `proptest-regressions/fuzz/` (one per property, so a seed is replayed by its own strategy).
pub fn config(regressions: &'static str) -> Config {
    Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        // A case that fails is shrunk, but a long run should not spend its time there.
        max_shrink_iters: 4_096,
        ..Config::default()
    }
}

/// The regression file of a property, relative to the crate (where `cargo test` runs tests).
#[macro_export]
macro_rules! regressions {
    ($name:literal) => {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/fuzz/",
            $name,
            ".txt"
        )
    };
}
