//! Order books on integer ticks (DESIGN.md: "in books they are integer ticks of the symbol's
//! tick size"), and each venue's rules for keeping one in sync with its stream (`sync.rs`).
//!
//! A price that is not a whole number of ticks, or a quantity that is not a whole number of
//! steps, means our symbol rules are stale or the message is wrong: it is an error, never
//! rounded, and the caller resyncs.

pub mod live;
pub mod sync;

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::model::Level;

/// How a symbol's prices and quantities map to integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub tick: Decimal,
    pub step: Decimal,
}

/// Why a level could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    #[error("price {0} is not a multiple of the tick size {1}")]
    OffTick(Decimal, Decimal),
    #[error("quantity {0} is not a multiple of the step size {1}")]
    OffStep(Decimal, Decimal),
    #[error("{0} is out of range for the book")]
    OutOfRange(Decimal),
}

fn units(value: Decimal, unit: Decimal) -> Option<i64> {
    // In integers: value = v·10^-vs, unit = u·10^-us, so value / unit = v·10^us / (u·10^vs)
    // (Decimal division is ten times slower; it stays as the fallback on overflow).
    let (v, u) = (value.mantissa(), unit.mantissa());
    let (vs, us) = (value.scale(), unit.scale());
    let lift = |m: i128, by: u32| 10i128.checked_pow(by).and_then(|p| m.checked_mul(p));
    let exact = if vs >= us {
        lift(u, vs - us).map(|den| (v, den))
    } else {
        lift(v, us - vs).map(|num| (num, u))
    };
    if let Some((num, den)) = exact {
        if den == 0 || num % den != 0 {
            return None;
        }
        return i64::try_from(num / den).ok();
    }
    let n = value.checked_div(unit)?;
    if n.fract().is_zero() {
        i64::try_from(n).ok()
    } else {
        None
    }
}

impl Grid {
    pub fn ticks(&self, price: Decimal) -> Result<i64, GridError> {
        if price.is_sign_negative() {
            return Err(GridError::OutOfRange(price));
        }
        units(price, self.tick).ok_or(GridError::OffTick(price, self.tick))
    }

    pub fn lots(&self, qty: Decimal) -> Result<i64, GridError> {
        if qty.is_sign_negative() {
            return Err(GridError::OutOfRange(qty));
        }
        units(qty, self.step).ok_or(GridError::OffStep(qty, self.step))
    }

    pub fn level(&self, ticks: i64, lots: i64) -> Level {
        Level {
            price: scaled(ticks, self.tick),
            qty: scaled(lots, self.step),
        }
    }
}

/// `n · unit`, normalized. Exact in integers when it fits (cheaper than `Decimal` multiplication
/// and its normalization); `Decimal` arithmetic otherwise.
fn scaled(n: i64, unit: Decimal) -> Decimal {
    let mut scale = unit.scale();
    // The usual case fits 64 bits, where dividing by ten is a multiplication (in 128 bits it
    // is a library call).
    if let Some(mut m) = i64::try_from(unit.mantissa())
        .ok()
        .and_then(|u| n.checked_mul(u))
    {
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        return Decimal::new(m, scale);
    }
    if let Some(mut m) = i128::from(n).checked_mul(unit.mantissa()) {
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        if let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) {
            return d;
        }
    }
    (Decimal::from(n) * unit).normalize()
}

/// One side's levels: price in ticks → quantity in lots (never 0).
pub type Side = BTreeMap<i64, i64>;

/// One change to a book, as recorded for its followers (merged books): price in ticks,
/// quantity in lots, 0 for a removed level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Every level went (a snapshot follows, or the book lost sync).
    Clear,
    Bid(i64, i64),
    Ask(i64, i64),
}

#[derive(Debug, Clone)]
pub struct Book {
    pub grid: Grid,
    bids: Side,
    asks: Side,
    /// The changes since they were last taken, while someone follows the book (`None`: nobody,
    /// and recording costs one branch per level).
    journal: Option<Vec<Change>>,
}

/// Two books are equal when their levels are (the journal is bookkeeping).
impl PartialEq for Book {
    fn eq(&self, other: &Self) -> bool {
        self.grid == other.grid && self.bids == other.bids && self.asks == other.asks
    }
}

impl Eq for Book {}

impl Book {
    pub fn new(grid: Grid) -> Book {
        Book {
            grid,
            bids: Side::new(),
            asks: Side::new(),
            journal: None,
        }
    }

    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        if let Some(journal) = &mut self.journal {
            journal.clear();
            journal.push(Change::Clear);
        }
    }

    /// Starts (`true`) or stops recording changes for [`Book::take_changes`].
    pub fn record(&mut self, on: bool) {
        match (on, self.journal.is_some()) {
            (true, false) => self.journal = Some(Vec::new()),
            (false, true) => self.journal = None,
            _ => {}
        }
    }

    /// The changes recorded since the last call, oldest first, into `out`.
    pub fn take_changes(&mut self, out: &mut Vec<Change>) {
        if let Some(journal) = &mut self.journal {
            out.append(journal);
        }
    }

    /// The whole book as changes: a `Clear`, then every level.
    pub fn as_changes(&self) -> Vec<Change> {
        let bids = self.bids.iter().map(|(p, q)| Change::Bid(*p, *q));
        let asks = self.asks.iter().map(|(p, q)| Change::Ask(*p, *q));
        std::iter::once(Change::Clear)
            .chain(bids)
            .chain(asks)
            .collect()
    }

    /// Sets each level (quantity 0 removes it). All levels are checked before any is applied,
    /// so a bad message leaves the book as it was.
    pub fn apply(&mut self, bids: &[Level], asks: &[Level]) -> Result<(), GridError> {
        let convert = |levels: &[Level]| -> Result<Vec<(i64, i64)>, GridError> {
            levels
                .iter()
                .map(|l| Ok((self.grid.ticks(l.price)?, self.grid.lots(l.qty)?)))
                .collect()
        };
        let (bids, asks) = (convert(bids)?, convert(asks)?);
        for (is_bid, side, levels) in [(true, &mut self.bids, bids), (false, &mut self.asks, asks)]
        {
            for (price, lots) in levels {
                if lots == 0 {
                    side.remove(&price);
                } else {
                    side.insert(price, lots);
                }
                if let Some(journal) = &mut self.journal {
                    journal.push(if is_bid {
                        Change::Bid(price, lots)
                    } else {
                        Change::Ask(price, lots)
                    });
                }
            }
        }
        Ok(())
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids
            .last_key_value()
            .map(|(p, q)| self.grid.level(*p, *q))
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks
            .first_key_value()
            .map(|(p, q)| self.grid.level(*p, *q))
    }

    /// The best `n` bids, best first.
    pub fn bids(&self, n: usize) -> Vec<Level> {
        self.bid_ticks(n)
            .map(|(p, q)| self.grid.level(p, q))
            .collect()
    }

    /// The best `n` asks, best first.
    pub fn asks(&self, n: usize) -> Vec<Level> {
        self.ask_ticks(n)
            .map(|(p, q)| self.grid.level(p, q))
            .collect()
    }

    /// The best `n` bids as (ticks, lots), best first: cheap to copy under a lock and convert
    /// after it.
    pub fn bid_ticks(&self, n: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.bids.iter().rev().take(n).map(|(p, q)| (*p, *q))
    }

    /// The best `n` asks as (ticks, lots), best first.
    pub fn ask_ticks(&self, n: usize) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.asks.iter().take(n).map(|(p, q)| (*p, *q))
    }

    /// A best bid at or above the best ask: the book cannot be right.
    pub fn is_crossed(&self) -> bool {
        match (self.bids.last_key_value(), self.asks.first_key_value()) {
            (Some((b, _)), Some((a, _))) => b >= a,
            _ => false,
        }
    }

    /// Keeps only the best `depth` levels a side (a venue's depth-limited topic).
    pub fn truncate(&mut self, depth: usize) {
        while self.bids.len() > depth {
            if let (Some((p, _)), Some(journal)) = (self.bids.pop_first(), &mut self.journal) {
                journal.push(Change::Bid(p, 0));
            }
        }
        while self.asks.len() > depth {
            if let (Some((p, _)), Some(journal)) = (self.asks.pop_last(), &mut self.journal) {
                journal.push(Change::Ask(p, 0));
            }
        }
    }

    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn level(p: &str, q: &str) -> Level {
        Level {
            price: d(p),
            qty: d(q),
        }
    }

    #[test]
    fn levels_are_the_exact_normalized_product_of_units_and_the_unit() {
        let units = [
            "0.01",
            "0.1",
            "1",
            "10",
            "0.00000001",
            "0.5",
            "2.5",
            "0.0001000",
        ];
        let counts = [0, 1, 7, 10, 100, 123_456_789, 5_000_000_000, i64::MAX];
        for unit in units.map(d) {
            for n in counts {
                let want = (Decimal::from(n) * unit).normalize();
                assert_eq!(scaled(n, unit), want, "{n} x {unit}");
                assert_eq!(
                    scaled(n, unit).to_string(),
                    want.to_string(),
                    "{n} x {unit}"
                );
            }
        }
    }

    fn grid() -> Grid {
        Grid {
            tick: d("0.01"),
            step: d("0.00001"),
        }
    }

    #[test]
    fn levels_set_remove_and_come_out_best_first() {
        let mut book = Book::new(grid());
        book.apply(
            &[level("100.00", "1"), level("99.99", "2.5")],
            &[level("100.01", "0.00001"), level("100.05", "3")],
        )
        .unwrap();
        assert_eq!(book.best_bid(), Some(level("100", "1")));
        assert_eq!(
            book.asks(2),
            vec![level("100.01", "0.00001"), level("100.05", "3")]
        );
        book.apply(&[level("100.00", "0")], &[]).unwrap();
        assert_eq!(book.bids(5), vec![level("99.99", "2.5")]);
        assert!(!book.is_crossed());
        book.apply(&[level("100.02", "1")], &[]).unwrap();
        assert!(book.is_crossed());
    }

    #[test]
    fn off_grid_input_changes_nothing() {
        let mut book = Book::new(grid());
        book.apply(&[level("1.00", "1")], &[]).unwrap();
        let before = book.clone();
        let err = book
            .apply(&[level("2.00", "1")], &[level("3.001", "1")])
            .unwrap_err();
        assert_eq!(err, GridError::OffTick(d("3.001"), d("0.01")));
        assert_eq!(book, before, "nothing of a bad message is applied");
        assert!(book.apply(&[level("1.00", "0.000001")], &[]).is_err());
        assert!(book.apply(&[level("-1.00", "1")], &[]).is_err());
    }

    #[test]
    fn truncate_keeps_the_best_levels() {
        let mut book = Book::new(grid());
        let bids: Vec<Level> = (1..=5).map(|k| level(&format!("{k}.00"), "1")).collect();
        let asks: Vec<Level> = (6..=10).map(|k| level(&format!("{k}.00"), "1")).collect();
        book.apply(&bids, &asks).unwrap();
        book.truncate(2);
        assert_eq!(
            book.bids(9).iter().map(|l| l.price).collect::<Vec<_>>(),
            vec![d("5"), d("4")]
        );
        assert_eq!(
            book.asks(9).iter().map(|l| l.price).collect::<Vec<_>>(),
            vec![d("6"), d("7")]
        );
    }

    proptest::proptest! {
        #[test]
        fn integer_units_agree_with_decimal_division(
            v in 0i64..i64::MAX, vs in 0u32..=28, u in 1i64..1_000_000, us in 0u32..=18
        ) {
            let value = Decimal::new(v, vs);
            let unit = Decimal::new(u, us);
            let by_division = value
                .checked_div(unit)
                .filter(|n| n.fract().is_zero())
                .and_then(|n| i64::try_from(n).ok());
            proptest::prop_assert_eq!(units(value, unit), by_division);
        }

        #[test]
        fn multiples_of_the_unit_count_exactly(
            k in 0i64..1_000_000_000_000, u in 1i64..1_000_000, us in 0u32..=18, pad in 0u32..=8
        ) {
            let unit = Decimal::new(u, us);
            let mut value = unit * Decimal::from(k);
            value.rescale(value.scale() + pad); // wire text often pads with zeros
            proptest::prop_assert_eq!(units(value, unit), Some(k));
        }
    }
}
