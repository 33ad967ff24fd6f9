//! Binance spot (`/api/v3`) and USD-M futures (`/fapi`).

#[deny(clippy::arithmetic_side_effects)]
pub mod adapter;
#[deny(clippy::arithmetic_side_effects)]
pub mod book;
pub mod entry;
#[deny(clippy::arithmetic_side_effects)]
pub mod market;
#[deny(clippy::arithmetic_side_effects)]
pub mod messages;
#[deny(clippy::arithmetic_side_effects)]
pub mod orders;
pub mod rest;
pub mod sign;
#[deny(clippy::arithmetic_side_effects)]
pub mod user;
