//! tradewire-sim: Binance (spot, USD-M) and Bybit v5 (spot, linear) on their real wire
//! protocols, on loopback, with fault injection. See DESIGN.md "Simulator".

// Venue JSON objects are wide; `serde_json::json!` needs the deeper macro recursion.
#![recursion_limit = "256"]

pub mod binance;
pub mod book;
pub mod bybit;
pub mod clock;
pub mod config;
pub mod exchange;
pub mod limits;
pub mod market;
pub mod replay;
pub mod server;
pub mod synth;
pub mod tape;
pub mod wire;

pub use config::{SimConfig, Timing};
pub use server::{Credentials, Endpoints, Simulator};
