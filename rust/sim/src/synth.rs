//! The synthetic market: a seeded random walk per symbol that keeps a realistic book around a
//! fair price (liquidity added and withdrawn near the touch) and sends small taker orders that
//! trade against it, user orders included. The same seed gives the same market.
//!
//! Every venue's fair price of a symbol follows one reference path (seeded by the simulation,
//! not the venue) within a tick or two, as arbitrage keeps real venues together: merged books
//! cross only now and then, by a tick, instead of drifting apart.

use rust_decimal::Decimal;

use crate::book::{Lots, Side, Ticks};
use crate::exchange::Exchange;

/// Per-symbol walk state.
#[derive(Debug, Clone)]
pub struct Walk {
    pub symbol: String,
    pub fair: Ticks,
    /// A typical level size in lots (about 1,000 in quote value).
    pub unit: Lots,
    rng: fastrand::Rng,
    reference: Reference,
}

/// The price path every venue of a symbol follows: ±1 move per step, in units of a millionth
/// of the starting price's magnitude (0.01 for 60,000), the same for every venue with the same
/// seed and symbol.
#[derive(Debug, Clone)]
struct Reference {
    rng: fastrand::Rng,
    moves: i64,
    start: Decimal,
    unit: Decimal,
    tick: Decimal,
}

impl Reference {
    fn new(ex: &Exchange, symbol: &str, seed: u64) -> Reference {
        let spec = &ex.symbols[symbol].spec;
        let digits = spec
            .start_price
            .trunc()
            .to_string()
            .trim_start_matches('-')
            .len() as u32;
        Reference {
            rng: fastrand::Rng::with_seed(seed ^ 0x7265_6665 ^ salt(symbol)),
            moves: 0,
            start: spec.start_price,
            unit: Decimal::new(1, (7u32.saturating_sub(digits)).min(28)),
            tick: spec.tick,
        }
    }

    /// The reference price now, in ticks (nearest).
    fn ticks(&self) -> Ticks {
        let price = self.start + Decimal::from(self.moves) * self.unit;
        (price / self.tick).round().try_into().unwrap_or(Ticks::MAX)
    }

    /// Makes `fair` the reference price (a walk resumed from a book).
    fn anchor(&mut self, fair: Ticks) {
        let price = Decimal::from(fair) * self.tick;
        self.moves = ((price - self.start) / self.unit)
            .round()
            .try_into()
            .unwrap_or(0);
    }
}

fn salt(symbol: &str) -> u64 {
    symbol
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
}

/// Levels kept on each side of the fair price.
const BAND: Ticks = 40;

impl Walk {
    /// A venue's walk (`seed`) along the simulation's reference path (`reference_seed`).
    pub fn new(ex: &Exchange, symbol: &str, seed: u64, reference_seed: u64) -> Walk {
        let spec = &ex.symbols[symbol].spec;
        let fair = spec.ticks(spec.start_price).unwrap_or(1_000);
        let unit_value = Decimal::from(1000) / (spec.start_price * spec.step);
        let unit = unit_value.trunc().try_into().unwrap_or(1i64).max(1);
        Walk {
            symbol: symbol.to_owned(),
            fair,
            unit,
            rng: fastrand::Rng::with_seed(seed ^ salt(symbol)),
            reference: Reference::new(ex, symbol, reference_seed),
        }
    }

    /// A walk that continues from the book as it is: the fair price (and the reference path)
    /// start at its mid.
    pub fn resume(ex: &Exchange, symbol: &str, seed: u64) -> Walk {
        let mut walk = Walk::new(ex, symbol, seed, seed);
        let book = &ex.symbols[symbol].book;
        if let (Some((bid, _)), Some((ask, _))) = (book.best(Side::Buy), book.best(Side::Sell)) {
            walk.fair = ((bid + ask) / 2).max(BAND + 2);
        }
        walk.reference.anchor(walk.fair);
        walk
    }

    fn size(&mut self) -> Lots {
        self.unit * self.rng.i64(1..=20)
    }

    /// Fills the book with `BAND` levels a side around the fair price.
    pub fn seed_book(&mut self, ex: &mut Exchange) {
        let book = &mut ex.symbols.get_mut(&self.symbol).expect("symbol").book;
        for k in 1..=BAND {
            let (bid, ask) = (self.fair - k, self.fair + k);
            let (b, a) = (
                self.unit * self.rng.i64(1..=20),
                self.unit * self.rng.i64(1..=20),
            );
            if bid > 0 {
                book.add(Side::Buy, bid, crate::book::Owner::Synthetic, b);
            }
            book.add(Side::Sell, ask, crate::book::Owner::Synthetic, a);
        }
    }

    /// One step of the market: move the fair price, change liquidity, sometimes trade.
    pub fn step(&mut self, ex: &mut Exchange, now_ms: i64) {
        // The reference moves; the fair price wanders within a tick of it, or steps towards it.
        self.reference.moves += self.reference.rng.i64(-1..=1);
        let off = self.reference.ticks() - self.fair;
        let step = if off.abs() > 1 {
            off.signum()
        } else {
            self.rng.i64(-1..=1)
        };
        self.fair = (self.fair + step).max(BAND + 2);
        // Market makers reprice: no synthetic bid at or above the fair price, no ask at or
        // below it (user orders stay where they are).
        let book = &mut ex.symbols.get_mut(&self.symbol).expect("symbol").book;
        for (side, through) in [(Side::Buy, self.fair), (Side::Sell, self.fair)] {
            let crossing: Vec<Ticks> = book
                .levels(side, 8)
                .into_iter()
                .map(|(p, _)| p)
                .take_while(|p| match side {
                    Side::Buy => *p >= through,
                    Side::Sell => *p <= through,
                })
                .collect();
            for price in crossing {
                book.withdraw_synthetic(side, price, Lots::MAX);
            }
        }
        let roll = self.rng.u32(0..100);
        let side = if self.rng.bool() {
            Side::Buy
        } else {
            Side::Sell
        };
        let (best_bid, best_ask) = {
            let book = &ex.symbols[&self.symbol].book;
            (
                book.best(Side::Buy).map(|b| b.0),
                book.best(Side::Sell).map(|a| a.0),
            )
        };
        match roll {
            0..=54 => {
                // Add liquidity near the fair price, never crossing the other side.
                let offset = self.rng.i64(0..BAND);
                let price = match side {
                    Side::Buy => {
                        (self.fair - 1 - offset).min(best_ask.map_or(Ticks::MAX, |a| a - 1))
                    }
                    Side::Sell => (self.fair + 1 + offset).max(best_bid.map_or(1, |b| b + 1)),
                };
                if price > 0 {
                    let lots = self.size();
                    let book = &mut ex.symbols.get_mut(&self.symbol).expect("symbol").book;
                    book.add(side, price, crate::book::Owner::Synthetic, lots);
                }
            }
            55..=84 => {
                // Withdraw some liquidity from a random level, pruning what drifted far away.
                let book = &mut ex.symbols.get_mut(&self.symbol).expect("symbol").book;
                let levels = book.levels(side, usize::MAX);
                if levels.len() > 3 {
                    let far = levels
                        .iter()
                        .rev()
                        .find(|(p, _)| (p - self.fair).abs() > 2 * BAND)
                        .map(|l| l.0);
                    let target = far.unwrap_or_else(|| levels[self.rng.usize(0..levels.len())].0);
                    let lots = if far.is_some() {
                        Lots::MAX
                    } else {
                        self.size()
                    };
                    book.withdraw_synthetic(side, target, lots);
                }
            }
            _ => {
                // A small taker, keeping at least a few levels on the side it hits.
                let depth = ex.symbols[&self.symbol].book.depth(side.opposite());
                if depth > 5 {
                    let lots = self.unit * self.rng.i64(1..=5);
                    ex.synthetic_take(&self.symbol, side, lots, now_ms);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::exchange::Kind;

    fn run(seed: u64, steps: usize) -> (Exchange, Walk) {
        let cfg = SimConfig::default();
        let mut ex = Exchange::new(Kind::Spot, &cfg.spot_symbols, 1);
        let mut walk = Walk::new(&ex, "BTCUSDT", seed, 7);
        walk.seed_book(&mut ex);
        for i in 0..steps {
            walk.step(&mut ex, i as i64);
        }
        (ex, walk)
    }

    #[test]
    fn the_book_stays_two_sided_uncrossed_and_bounded() {
        let (ex, _) = run(1, 20_000);
        let book = &ex.symbols["BTCUSDT"].book;
        let (bid, ask) = (
            book.best(Side::Buy).unwrap().0,
            book.best(Side::Sell).unwrap().0,
        );
        assert!(bid < ask, "crossed: {bid} >= {ask}");
        assert!(book.depth(Side::Buy) < 400 && book.depth(Side::Sell) < 400);
        assert!(ex.symbols["BTCUSDT"].trade_count > 1000);
    }

    #[test]
    fn same_seed_same_market() {
        let (a, _) = run(9, 2_000);
        let (b, _) = run(9, 2_000);
        let (c, _) = run(10, 2_000);
        let top = |ex: &Exchange| ex.symbols["BTCUSDT"].book.levels(Side::Buy, 10);
        assert_eq!(top(&a), top(&b));
        assert_ne!(top(&a), top(&c));
    }

    #[test]
    fn venues_follow_one_reference_within_a_few_ticks() {
        let (a, wa) = run(9, 20_000);
        let (_, wc) = run(10, 20_000);
        assert!((wa.fair - wc.fair).abs() <= 3, "{} vs {}", wa.fair, wc.fair);
        let start = a.symbols["BTCUSDT"]
            .spec
            .ticks(a.symbols["BTCUSDT"].spec.start_price);
        assert_ne!(Some(wa.fair), start, "the reference moves");
    }
}
