//! Order books that keep exactly the levels a venue sends (DESIGN.md decision 13), and the
//! sync-rule trait each venue implements to keep one in sync with its stream (`sync.rs`; the
//! rules themselves in `venue/<name>/book.rs`).
//!
//! Real books hold levels off the symbol's current tick and step: orders resting from before
//! the venue changed them. So a book knows no grid. Prices are ordered by an exact fixed-point
//! key ([`PriceKey`]); each level keeps the price and quantity as the venue wrote them. The
//! tick, step and minimum rules apply to the orders we send (`orders/check.rs`), never here.
//! Only a level that cannot be a price level (negative, or a price finer than 10^-18) is refused.

pub mod diffs;
pub mod live;
#[deny(clippy::arithmetic_side_effects)]
pub mod sync;
pub mod top;

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::model::Level;

/// Decimal places a [`PriceKey`] holds: far finer than any venue quotes (Binance writes 8).
pub const PRICE_SCALE: u32 = 18;

const POW10: [u128; 29] = {
    let mut table = [1u128; 29];
    let mut k = 1;
    while k < 29 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

/// A price as an exact integer count of 10^-18: ordered as the prices are, equal for equal
/// prices however they were written (`"0.50579000"` and `"0.50579"`), and one integer
/// comparison in a map. Every non-negative price below 1.7·10^20 with at most 18 decimal places
/// has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PriceKey(i128);

impl PriceKey {
    pub fn of(price: Decimal) -> Result<PriceKey, LevelError> {
        if price.is_sign_negative() && !price.is_zero() {
            return Err(LevelError::Negative("price", price));
        }
        let (m, scale) = (price.mantissa().unsigned_abs(), price.scale());
        let key = if scale <= PRICE_SCALE {
            let pow = POW10[(PRICE_SCALE - scale) as usize];
            // The usual mantissa fits 64 bits: one widening multiply, which cannot overflow.
            match u64::try_from(m) {
                Ok(m) => u128::from(m) * pow,
                Err(_) => m.checked_mul(pow).ok_or(LevelError::OutOfRange(price))?,
            }
        } else {
            // More places than a key holds: fine if they are only trailing zeros.
            let excess = POW10[(scale - PRICE_SCALE) as usize];
            if m % excess != 0 {
                return Err(LevelError::TooFine(price));
            }
            m / excess
        };
        i128::try_from(key)
            .map(PriceKey)
            .map_err(|_| LevelError::OutOfRange(price))
    }
}

#[cfg(test)]
impl PriceKey {
    /// The price, normalized (the key's inverse, to check it).
    pub fn price(self) -> Decimal {
        let (mut m, mut scale) = (self.0, PRICE_SCALE);
        while scale > 0 && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        Decimal::try_from_i128_with_scale(m, scale).unwrap_or(Decimal::MAX)
    }
}

/// Why a level could not be applied: the message is malformed, not merely off grid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("{0} {1} is negative")]
    Negative(&'static str, Decimal),
    #[error("price {0} has more than 18 decimal places")]
    TooFine(Decimal),
    #[error("price {0} is out of range for a book")]
    OutOfRange(Decimal),
}

/// A level with its key checked: the quantity must not be negative (0 removes the level).
fn checked(level: &Level) -> Result<PriceKey, LevelError> {
    if level.qty.is_sign_negative() && !level.qty.is_zero() {
        return Err(LevelError::Negative("quantity", level.qty));
    }
    PriceKey::of(level.price)
}

/// A level as readers see it: price and quantity normalized (`"0.50579"`, `"12"`), whatever
/// padding the venue wrote.
pub fn normalized(level: &Level) -> Level {
    Level {
        price: level.price.normalize(),
        qty: level.qty.normalize(),
    }
}

/// One side's levels by price, each as the venue last wrote it (quantity never 0).
pub type Side = BTreeMap<PriceKey, Level>;

/// One change to a book, as recorded for its followers (merged books): the level as written,
/// quantity 0 for a removed level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Every level went (a snapshot follows, or the book lost sync).
    Clear,
    Bid(PriceKey, Level),
    Ask(PriceKey, Level),
}

#[derive(Debug, Clone, Default)]
pub struct Book {
    bids: Side,
    asks: Side,
    /// The keys of the message being applied (kept to save an allocation per message).
    keys: Vec<PriceKey>,
    /// The changes since they were last taken, while someone follows the book (`None`: nobody,
    /// and recording costs one branch per level).
    journal: Option<Vec<Change>>,
}

/// Two books are equal when their levels are (the journal is bookkeeping).
impl PartialEq for Book {
    fn eq(&self, other: &Self) -> bool {
        self.bids == other.bids && self.asks == other.asks
    }
}

impl Eq for Book {}

impl Book {
    pub fn new() -> Book {
        Book::default()
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
        let bids = self.bids.iter().map(|(k, l)| Change::Bid(*k, *l));
        let asks = self.asks.iter().map(|(k, l)| Change::Ask(*k, *l));
        std::iter::once(Change::Clear)
            .chain(bids)
            .chain(asks)
            .collect()
    }

    /// Sets each level (quantity 0 removes it). All levels are checked before any is applied,
    /// so a malformed message leaves the book as it was.
    pub fn apply(&mut self, bids: &[Level], asks: &[Level]) -> Result<(), LevelError> {
        self.keys.clear();
        for level in bids.iter().chain(asks) {
            self.keys.push(checked(level)?);
        }
        let (bid_keys, ask_keys) = self.keys.split_at(bids.len());
        for (is_bid, side, levels, keys) in [
            (true, &mut self.bids, bids, bid_keys),
            (false, &mut self.asks, asks, ask_keys),
        ] {
            for (level, key) in levels.iter().zip(keys) {
                if level.qty.is_zero() {
                    side.remove(key);
                } else {
                    side.insert(*key, *level);
                }
                if let Some(journal) = &mut self.journal {
                    journal.push(if is_bid {
                        Change::Bid(*key, *level)
                    } else {
                        Change::Ask(*key, *level)
                    });
                }
            }
        }
        Ok(())
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last_key_value().map(|(_, l)| normalized(l))
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first_key_value().map(|(_, l)| normalized(l))
    }

    /// The best `n` bids, best first, normalized.
    pub fn bids(&self, n: usize) -> Vec<Level> {
        self.bid_levels(n).map(normalized).collect()
    }

    /// The best `n` asks, best first, normalized.
    pub fn asks(&self, n: usize) -> Vec<Level> {
        self.ask_levels(n).map(normalized).collect()
    }

    /// The best `n` bids as the venue wrote them, best first: cheap to copy under a lock and
    /// normalize after it.
    pub fn bid_levels(&self, n: usize) -> impl Iterator<Item = &Level> + '_ {
        self.bids.values().rev().take(n)
    }

    /// The best `n` asks as the venue wrote them, best first.
    pub fn ask_levels(&self, n: usize) -> impl Iterator<Item = &Level> + '_ {
        self.asks.values().take(n)
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
            if let (Some((k, l)), Some(journal)) = (self.bids.pop_first(), &mut self.journal) {
                journal.push(Change::Bid(k, removed(l)));
            }
        }
        while self.asks.len() > depth {
            if let (Some((k, l)), Some(journal)) = (self.asks.pop_last(), &mut self.journal) {
                journal.push(Change::Ask(k, removed(l)));
            }
        }
    }

    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}

/// The change that removes `level`.
fn removed(level: Level) -> Level {
    Level {
        price: level.price,
        qty: Decimal::ZERO,
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
    fn levels_set_remove_and_come_out_best_first() {
        let mut book = Book::new();
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
    fn levels_off_any_grid_are_kept_exactly_and_in_price_order() {
        // A USD-M book on a 0.001 tick holding legacy bids on a 0.00001 grid, and a spot
        // quantity off a step of 1 (both recorded from the real venue).
        let mut book = Book::new();
        book.apply(
            &[
                level("0.50600000", "10"),
                level("0.50579000", "11979.30000000"),
                level("0.50500000", "3"),
            ],
            &[level("1.56842", "7"), level("1.568", "1")],
        )
        .unwrap();
        assert_eq!(
            book.bids(9),
            vec![
                level("0.506", "10"),
                level("0.50579", "11979.3"),
                level("0.505", "3")
            ]
        );
        assert_eq!(
            book.asks(9),
            vec![level("1.568", "1"), level("1.56842", "7")]
        );
        // The same price written differently is the same level.
        book.apply(&[level("0.50579", "0.00000000")], &[]).unwrap();
        assert_eq!(book.depth(), (2, 2));
    }

    #[test]
    fn a_malformed_level_changes_nothing() {
        let mut book = Book::new();
        book.apply(&[level("1.00", "1")], &[]).unwrap();
        let before = book.clone();
        let err = book
            .apply(&[level("2.00", "1")], &[level("3", "-1")])
            .unwrap_err();
        assert_eq!(err, LevelError::Negative("quantity", d("-1")));
        assert_eq!(book, before, "nothing of a bad message is applied");
        assert!(matches!(
            book.apply(&[level("-1.00", "1")], &[]),
            Err(LevelError::Negative("price", _))
        ));
        let fine = Decimal::new(1, 20);
        assert_eq!(
            book.apply(
                &[Level {
                    price: fine,
                    qty: d("1")
                }],
                &[]
            ),
            Err(LevelError::TooFine(fine))
        );
        // Trailing zeros past 18 places are no finer than the key.
        let padded = Decimal::from_i128_with_scale(15 * 10i128.pow(21), 22);
        book.apply(
            &[Level {
                price: padded,
                qty: d("1"),
            }],
            &[],
        )
        .unwrap();
        assert_eq!(book.best_bid(), Some(level("1.5", "1")));
        assert_eq!(book.depth(), (2, 0));
    }

    #[test]
    fn truncate_keeps_the_best_levels_and_journals_what_went() {
        let mut book = Book::new();
        let bids: Vec<Level> = (1..=5).map(|k| level(&format!("{k}.00"), "1")).collect();
        let asks: Vec<Level> = (6..=10).map(|k| level(&format!("{k}.00"), "1")).collect();
        book.apply(&bids, &asks).unwrap();
        book.record(true);
        book.truncate(2);
        assert_eq!(
            book.bids(9).iter().map(|l| l.price).collect::<Vec<_>>(),
            vec![d("5"), d("4")]
        );
        assert_eq!(
            book.asks(9).iter().map(|l| l.price).collect::<Vec<_>>(),
            vec![d("6"), d("7")]
        );
        let mut changes = Vec::new();
        book.take_changes(&mut changes);
        assert_eq!(changes.len(), 6);
        assert!(changes.iter().all(|c| match c {
            Change::Bid(_, l) | Change::Ask(_, l) => l.qty.is_zero(),
            Change::Clear => false,
        }));
    }

    #[test]
    fn a_key_gives_its_price_back() {
        for p in [
            "0",
            "0.00000001",
            "1",
            "60000.1",
            "0.50579",
            "123456789.123456789",
        ] {
            assert_eq!(PriceKey::of(d(p)).unwrap().price(), d(p).normalize());
        }
        assert!(PriceKey::of(d("200000000000000000000")).is_err());
    }

    proptest::proptest! {
        /// Keys order and equate exactly as the prices do, however the prices are written.
        #[test]
        fn keys_order_like_prices(
            a in 0i64..i64::MAX, sa in 0u32..=18, pa in 0u32..=8,
            b in 0i64..i64::MAX, sb in 0u32..=18, pb in 0u32..=8,
        ) {
            let mut x = Decimal::new(a, sa);
            let mut y = Decimal::new(b, sb);
            x.rescale(sa + pa); // venues pad with zeros
            y.rescale(sb + pb);
            let (kx, ky) = (PriceKey::of(x).unwrap(), PriceKey::of(y).unwrap());
            proptest::prop_assert_eq!(kx.cmp(&ky), x.cmp(&y));
            proptest::prop_assert_eq!(kx.price(), x.normalize());
        }
    }
}
