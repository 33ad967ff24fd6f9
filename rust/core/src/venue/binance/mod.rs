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

use crate::net::Request;
use crate::venue::PageQuery;

/// A history page's parameters: an id to go on from (`id_key`: `fromId`, or `orderId` for
/// orders) with no times, since USD-M refuses or may time out on both; else the time window.
fn windowed(mut request: Request, id_key: &str, query: &PageQuery<'_>) -> Request {
    if let Some(id) = query.from_id {
        request = request.param(id_key, id);
    } else {
        if let Some(start) = query.start {
            request = request.param("startTime", start);
        }
        if let Some(end) = query.end {
            request = request.param("endTime", end);
        }
    }
    request.param("limit", query.limit)
}
