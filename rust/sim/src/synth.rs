//! The synthetic market: a seeded random walk per symbol that keeps a realistic book around a
//! fair price (liquidity added and withdrawn near the touch) and sends small taker orders that
//! trade against it, user orders included. The same seed gives the same market.
//!
//! Every venue's fair price of a symbol follows one reference path (seeded by the simulation,
//! not the venue) within a tick or two, as arbitrage keeps real venues together: merged books
//! cross only now and then, by a tick, instead of drifting apart.

use rust_decimal::Decimal;

use crate::book::{Lots, Owner, Side, Ticks};
use crate::exchange::{Exchange, LEGACY_STEP_DIVISOR, LEGACY_TICK_DIVISOR, SymbolSpec};

/// Per-symbol walk state. Prices and sizes are in the symbol's book units; the walk quotes on
/// the tick and step published now, so a rule change moves its new quotes to the new grid.
#[derive(Debug, Clone)]
pub struct Walk {
    pub symbol: String,
    /// The fair price, on the current tick.
    pub fair: Ticks,
    /// A typical level size (about 1,000 in quote value).
    pub unit: Lots,
    seed: u64,
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
        }
    }

    /// The reference price now, in (nearest) current ticks.
    fn ticks(&self, spec: &SymbolSpec) -> i64 {
        let price = self.start + Decimal::from(self.moves) * self.unit;
        (price / spec.tick).round().try_into().unwrap_or(i64::MAX)
    }

    /// Makes `fair` (book units) the reference price (a walk resumed from a book).
    fn anchor(&mut self, fair: Ticks, spec: &SymbolSpec) {
        let price = spec.price(fair);
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

/// Levels (current ticks) kept on each side of the fair price.
const BAND: i64 = 40;

/// Current ticks between the fair price and the first legacy level: as on the real books, they
/// sit far below the liquidity the market works with (hundreds of levels deep where every tick
/// is quoted), so nothing the synthetic market does reaches them.
pub const LEGACY_GAP: i64 = 300;

impl Walk {
    /// A venue's walk (`seed`) along the simulation's reference path (`reference_seed`).
    pub fn new(ex: &Exchange, symbol: &str, seed: u64, reference_seed: u64) -> Walk {
        let spec = &ex.symbols[symbol].spec;
        let fair = spec
            .ticks(spec.start_price)
            .unwrap_or(1_000 * spec.tick_units());
        let unit_value = Decimal::from(1000) / (spec.start_price * spec.step);
        let unit = unit_value.trunc().try_into().unwrap_or(1i64).max(1) * spec.step_units();
        Walk {
            symbol: symbol.to_owned(),
            fair,
            unit,
            seed,
            rng: fastrand::Rng::with_seed(seed ^ salt(symbol)),
            reference: Reference::new(ex, symbol, reference_seed),
        }
    }

    /// A walk that continues from the book as it is: the fair price (and the reference path)
    /// start at its mid.
    pub fn resume(ex: &Exchange, symbol: &str, seed: u64) -> Walk {
        let mut walk = Walk::new(ex, symbol, seed, seed);
        let spec = &ex.symbols[symbol].spec;
        let tick = spec.tick_units();
        let book = &ex.symbols[symbol].book;
        if let (Some((bid, _)), Some((ask, _))) = (book.best(Side::Buy), book.best(Side::Sell)) {
            walk.fair = ((bid + ask) / 2 / tick).max(BAND + 2) * tick;
        }
        walk.reference.anchor(walk.fair, spec);
        walk
    }

    /// `k` typical sizes, on the current step (at least one step).
    fn lots(&self, spec: &SymbolSpec, k: i64) -> Lots {
        let step = spec.step_units();
        (self.unit * k / step).max(1) * step
    }

    /// Fills the book with `BAND` levels a side around the fair price, and the symbol's legacy
    /// levels beyond them.
    pub fn seed_book(&mut self, ex: &mut Exchange) {
        let state = ex.symbols.get_mut(&self.symbol).expect("symbol");
        let tick = state.spec.tick_units();
        for k in 1..=BAND {
            let (bid, ask) = (self.fair - k * tick, self.fair + k * tick);
            let (b, a) = (
                self.unit * self.rng.i64(1..=20),
                self.unit * self.rng.i64(1..=20),
            );
            if bid > 0 {
                state.book.add(Side::Buy, bid, Owner::Synthetic, b);
            }
            state.book.add(Side::Sell, ask, Owner::Synthetic, a);
        }
        self.seed_legacy(ex);
    }

    /// Places the symbol's legacy levels: from `LEGACY_GAP` ticks off the fair price outwards,
    /// one every 1 to 3 ticks, each a few old ticks off the current grid with a quantity a few
    /// old steps off it. Their own random stream leaves the rest of the market unchanged.
    fn seed_legacy(&self, ex: &mut Exchange) {
        let state = ex.symbols.get_mut(&self.symbol).expect("symbol");
        let spec = &state.spec;
        let (tick, step) = (spec.tick_units(), spec.step_units());
        let (old_tick, old_step) = (tick / LEGACY_TICK_DIVISOR, step / LEGACY_STEP_DIVISOR);
        if spec.legacy_levels == 0 || old_tick == 0 || old_step == 0 {
            return;
        }
        let mut rng = fastrand::Rng::with_seed(self.seed ^ salt(&self.symbol) ^ 0x6c65_6761_6379);
        for side in [Side::Buy, Side::Sell] {
            let mut distance = LEGACY_GAP;
            for _ in 0..spec.legacy_levels {
                let off = rng.i64(1..LEGACY_TICK_DIVISOR) * old_tick;
                let price = match side {
                    Side::Buy => self.fair - distance * tick - off,
                    Side::Sell => self.fair + distance * tick + off,
                };
                if price <= 0 {
                    break;
                }
                let lots = (self.unit * rng.i64(1..=20) / step).max(1) * step
                    + rng.i64(1..LEGACY_STEP_DIVISOR) * old_step;
                state.book.add(side, price, Owner::Legacy, lots);
                distance += rng.i64(1..=3);
            }
        }
    }

    /// One step of the market: move the fair price, change liquidity, sometimes trade.
    pub fn step(&mut self, ex: &mut Exchange, now_ms: i64) {
        let spec = &ex.symbols[&self.symbol].spec;
        let tick = spec.tick_units();
        // The reference moves; the fair price wanders within a tick of it, or steps towards it
        // (on the current grid: a tick change moves it there).
        self.reference.moves += self.reference.rng.i64(-1..=1);
        let fair = self.fair / tick;
        let off = self.reference.ticks(spec) - fair;
        let step = if off.abs() > 1 {
            off.signum()
        } else {
            self.rng.i64(-1..=1)
        };
        self.fair = (fair + step).max(BAND + 2) * tick;
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
                // Add liquidity near the fair price, on the grid, never crossing the other side
                // (whose best may be off the grid since a tick change).
                let offset = self.rng.i64(0..BAND);
                let price = match side {
                    Side::Buy => (self.fair - (1 + offset) * tick)
                        .min(best_ask.map_or(Ticks::MAX, |a| (a - 1) / tick * tick)),
                    Side::Sell => (self.fair + (1 + offset) * tick)
                        .max(best_bid.map_or(tick, |b| (b / tick + 1) * tick)),
                };
                if price > 0 {
                    let k = self.rng.i64(1..=20);
                    let lots = self.lots(&ex.symbols[&self.symbol].spec, k);
                    let book = &mut ex.symbols.get_mut(&self.symbol).expect("symbol").book;
                    book.add(side, price, Owner::Synthetic, lots);
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
                        .find(|(p, _)| (p - self.fair).abs() > 2 * BAND * tick)
                        .map(|l| l.0);
                    let target = far.unwrap_or_else(|| levels[self.rng.usize(0..levels.len())].0);
                    let lots = if far.is_some() {
                        Lots::MAX
                    } else {
                        let k = self.rng.i64(1..=20);
                        self.unit * k
                    };
                    book.withdraw_synthetic(side, target, lots);
                }
            }
            _ => {
                // A small taker, keeping at least a few levels on the side it hits, and within
                // the band the market works in (never into legacy levels).
                let depth = ex.symbols[&self.symbol].book.depth(side.opposite());
                if depth > 5 {
                    let k = self.rng.i64(1..=5);
                    let lots = self.lots(&ex.symbols[&self.symbol].spec, k);
                    let limit = match side {
                        Side::Buy => self.fair + 2 * BAND * tick,
                        Side::Sell => self.fair - 2 * BAND * tick,
                    };
                    ex.synthetic_take(&self.symbol, side, Some(limit), lots, now_ms);
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
        let tick = a.symbols["BTCUSDT"].spec.tick_units();
        assert!(
            (wa.fair - wc.fair).abs() <= 3 * tick,
            "{} vs {}",
            wa.fair,
            wc.fair
        );
        let start = a.symbols["BTCUSDT"]
            .spec
            .ticks(a.symbols["BTCUSDT"].spec.start_price);
        assert_ne!(Some(wa.fair), start, "the reference moves");
    }

    #[test]
    fn legacy_levels_sit_deep_off_the_grid_and_the_market_leaves_them_alone() {
        let cfg = SimConfig::default().with_legacy_levels(6);
        let mut ex = Exchange::new(Kind::Perp, &cfg.perp_symbols, 1);
        let mut walk = Walk::new(&ex, "BTCUSDT", 3, 7);
        walk.seed_book(&mut ex);
        let spec = ex.symbols["BTCUSDT"].spec.clone();
        let (tick, step) = (spec.tick_units(), spec.step_units());
        let off_grid = |ex: &Exchange, side| -> Vec<(Ticks, Lots)> {
            ex.symbols["BTCUSDT"]
                .book
                .levels(side, usize::MAX)
                .into_iter()
                .filter(|(p, _)| p % tick != 0)
                .collect()
        };
        let start = spec.ticks(spec.start_price).unwrap();
        for side in [Side::Buy, Side::Sell] {
            let legacy = off_grid(&ex, side);
            assert_eq!(legacy.len(), 6, "{side:?}");
            for (p, q) in &legacy {
                // Off the current tick and step, on the old (100x, 10x finer) ones, deep.
                assert!(q % step != 0 && q % (step / 10) == 0, "{q}");
                assert_eq!(p % (tick / 100), 0);
                assert!((p - start).abs() > LEGACY_GAP * tick);
            }
            // Ten times deeper than the synthetic quotes' band: in a 1000-level snapshot.
            let all = ex.symbols["BTCUSDT"].book.levels(side, 1000);
            assert!(all.iter().rev().take(6).all(|(p, _)| p % tick != 0));
        }
        let before = (off_grid(&ex, Side::Buy), off_grid(&ex, Side::Sell));
        for i in 0..20_000 {
            walk.step(&mut ex, i);
        }
        assert_eq!(
            (off_grid(&ex, Side::Buy), off_grid(&ex, Side::Sell)),
            before
        );
        assert!(ex.symbols["BTCUSDT"].trade_count > 1000);
    }

    #[test]
    fn after_a_tick_change_new_quotes_go_on_the_new_grid() {
        let cfg = SimConfig::default();
        let mut ex = Exchange::new(Kind::Spot, &cfg.spot_symbols, 1);
        let mut walk = Walk::new(&ex, "ETHUSDT", 3, 7);
        walk.seed_book(&mut ex);
        let old: Vec<Ticks> = [Side::Buy, Side::Sell]
            .into_iter()
            .flat_map(|side| ex.symbols["ETHUSDT"].book.levels(side, usize::MAX))
            .map(|l| l.0)
            .collect();
        ex.set_rules(
            "ETHUSDT",
            Some("0.1".parse().unwrap()),
            Some("0.001".parse().unwrap()),
        )
        .unwrap();
        let spec = ex.symbols["ETHUSDT"].spec.clone();
        let mut events = ex.subscribe();
        for i in 0..5_000 {
            walk.step(&mut ex, i);
        }
        let book = &ex.symbols["ETHUSDT"].book;
        for side in [Side::Buy, Side::Sell] {
            for (p, q) in book.levels(side, usize::MAX) {
                // A level off the new grid is one the market quoted before the change.
                assert!(p % spec.tick_units() == 0 || old.contains(&p), "{p}");
                assert!(q > 0);
            }
        }
        let (bid, ask) = (
            book.best(Side::Buy).unwrap().0,
            book.best(Side::Sell).unwrap().0,
        );
        assert!(bid < ask);
        // Trades happened after the change, every one of them with a positive size.
        let mut trades = 0;
        while let Ok(e) = events.try_recv() {
            if let crate::exchange::Event::Trade { qty, .. } = &*e {
                assert!(*qty > Decimal::ZERO);
                trades += 1;
            }
        }
        assert!(trades > 100);
    }
}
