//! Bybit v5, categories `spot` and `linear`.

pub mod adapter;
pub mod book;
pub mod market;
pub mod messages;
pub mod orders;
pub mod rest;
pub mod sign;
pub mod user;
