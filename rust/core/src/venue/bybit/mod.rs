//! Bybit v5, categories `spot` and `linear`.

pub mod orders;
pub mod rest;
pub mod sign;
