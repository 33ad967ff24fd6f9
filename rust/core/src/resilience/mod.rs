//! Resilience building blocks shared by every venue.

pub mod backoff;

pub use backoff::Backoff;
