//! Venues. Each venue is a folder with the same files (`urls`, `sign`, `messages`, `market`,
//! `orders`, `user`) implementing the shared traits declared here.

pub mod binance;
pub mod bybit;
pub mod credentials;

pub use credentials::Credentials;
