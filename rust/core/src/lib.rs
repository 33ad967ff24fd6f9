//! tradewire-core: everything of tradewire that is not Python.
//!
//! Money is `rust_decimal::Decimal` (books order prices by exact fixed-point keys), never a float.
//! Nothing received from the network may panic: every failure is an [`Error`].

pub mod aggregate;
pub mod book;
pub mod connector;
pub mod error;
pub mod model;
pub mod net;
pub mod orders;
pub mod record;
pub mod resilience;
pub mod stream;
pub mod supervise;
pub mod venue;

pub use error::{Error, Result};
