//! Cross-venue books (CRSX-01..03): the books of one instrument on several venues merged into
//! one, with each venue's quantity at each price, and the best bid and ask across venues.
//!
//! A merged book follows its venue books ([`Follow`](crate::book::live::Follow)): every change a
//! venue book makes is applied here under that book's lock, one map operation per changed level,
//! so the cost of an update is proportional to the change, never to the depth. Prices meet on
//! their exact keys ([`PriceKey`](crate::book::PriceKey)), so venues on different ticks, and
//! levels off any tick, merge exactly. Venues are told apart per level; a venue whose book is out
//! of sync or stale is left out of every read (and says why), and its levels come back the moment
//! it is in sync again.
//!
//! Instruments are named canonically from the venues' symbol rules: `BASE/QUOTE` for spot and
//! `BASE/QUOTE:SETTLE` for linear perpetuals (the convention traders know from ccxt), so books
//! of the same instrument type merge by default; spot with perpetuals only by an explicit
//! mapping (DESIGN.md decision 10).
//!
//! The merged book is in `merged`, the aggregator that opens merged books by name over
//! several connectors in `aggregator`; this file holds what both share: the types a merged book
//! is read as and the events it publishes.

mod aggregator;
mod merged;

use std::sync::{Arc, Mutex, MutexGuard};

use rust_decimal::Decimal;

use crate::model::Source;

pub use aggregator::{Aggregator, AggregatorConfig, canonical, label};
pub use merged::{MergedBook, Part};

/// Venue books one merged book can hold (a slot per venue at each price).
pub const MAX_VENUES: usize = 8;

/// A venue's quantity at a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueQty {
    pub source: Source,
    pub qty: Decimal,
}

/// One price of a merged book: the total and each venue's part (largest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedLevel {
    pub price: Decimal,
    pub qty: Decimal,
    pub venues: Vec<VenueQty>,
}

/// The best price of one side across venues: `venue` holds the largest part of `qty` there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub price: Decimal,
    pub qty: Decimal,
    pub venue: Source,
    pub venues: Vec<VenueQty>,
}

/// Whether a venue's book counts in the merged view, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueStatus {
    pub source: Source,
    /// The venue's own name of the instrument.
    pub symbol: String,
    pub included: bool,
    pub reason: Option<String>,
}

/// The merged book at one moment: the best levels a side and the state of every venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedView {
    pub symbol: Arc<str>,
    pub bids: Vec<MergedLevel>,
    pub asks: Vec<MergedLevel>,
    pub venues: Vec<VenueStatus>,
    /// One venue's bid at or above another's ask.
    pub crossed: bool,
}

/// The best bid and ask across the included venues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bbo {
    pub symbol: Arc<str>,
    pub bid: Option<Quote>,
    pub ask: Option<Quote>,
    pub crossed: bool,
    /// Venues left out, and why.
    pub excluded: Vec<(Source, String)>,
    pub local_time_ns: i64,
}

/// Something worth knowing about a merged book that its quotes do not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateEvent {
    /// One venue's best bid is at or above another's best ask.
    Crossed {
        symbol: Arc<str>,
        bid: Quote,
        ask: Quote,
    },
    Uncrossed {
        symbol: Arc<str>,
    },
    /// A venue's book left the merged view (out of sync, stale, closed).
    Excluded {
        symbol: Arc<str>,
        source: Source,
        reason: String,
    },
    Included {
        symbol: Arc<str>,
        source: Source,
    },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
