//! Binance spot (`/api/v3`) and USD-M futures (`/fapi`).

pub mod adapter;
pub mod book;
pub mod market;
pub mod messages;
pub mod orders;
pub mod rest;
pub mod sign;
pub mod user;
