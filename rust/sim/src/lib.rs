//! tradewire-sim: Binance (spot, USD-M) and Bybit v5 (spot, linear) on their real wire
//! protocols, on loopback, with fault injection. See DESIGN.md "Simulator".

pub mod book;
pub mod exchange;
pub mod clock;
pub mod config;
pub mod limits;
