//! The simulator's order book: integer prices and quantities in the symbol's book units (see
//! `SymbolSpec`: finer than any tick or step it publishes, so levels may sit off the current
//! grid), price-time priority. Each level is a
//! FIFO of entries owned by a user order or by the synthetic market. Every change of a level's
//! total bumps `update_id` and is recorded for each registered depth publisher.

use std::collections::{BTreeMap, HashMap, VecDeque};

pub type Ticks = i64;
pub type Lots = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Synthetic,
    /// Resting since before a tick or step change (off the current grid): the synthetic market
    /// never withdraws it, though a user order may trade with it.
    Legacy,
    Order(u64),
}

#[derive(Debug, Clone)]
struct Entry {
    owner: Owner,
    lots: Lots,
}

#[derive(Debug, Clone, Default)]
struct Level {
    entries: VecDeque<Entry>,
    total: Lots,
}

/// Whether a taker on `taker`'s side with `limit` (none: market) may trade at `price`.
pub fn crosses(taker: Side, price: Ticks, limit: Option<Ticks>) -> bool {
    match (taker, limit) {
        (_, None) => true,
        (Side::Buy, Some(l)) => price <= l,
        (Side::Sell, Some(l)) => price >= l,
    }
}

/// One execution against resting liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub maker: Owner,
    pub price: Ticks,
    pub lots: Lots,
}

/// Level totals changed since a publisher last took them, with the update-id range.
#[derive(Debug, Clone, Default)]
pub struct Dirty {
    pub first_id: Option<u64>,
    pub last_id: u64,
    /// The book's update id when the publisher last took its changes (USD-M `pu`).
    pub since: u64,
    pub levels: HashMap<(Side, Ticks), Lots>,
}

#[derive(Debug, Clone, Default)]
pub struct Book {
    bids: BTreeMap<Ticks, Level>,
    asks: BTreeMap<Ticks, Level>,
    pub update_id: u64,
    publishers: Vec<Dirty>,
}

impl Book {
    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Ticks, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn side(&self, side: Side) -> &BTreeMap<Ticks, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Registers a depth publisher; its changes accumulate until [`Book::take_dirty`].
    pub fn add_publisher(&mut self) -> usize {
        self.publishers.push(Dirty {
            first_id: None,
            last_id: self.update_id,
            since: self.update_id,
            levels: HashMap::new(),
        });
        self.publishers.len() - 1
    }

    pub fn take_dirty(&mut self, publisher: usize) -> Dirty {
        let last_id = self.update_id;
        let taken = std::mem::take(&mut self.publishers[publisher]);
        self.publishers[publisher].last_id = last_id;
        self.publishers[publisher].since = last_id;
        Dirty { last_id, ..taken }
    }

    /// Unregisters the most recently added publisher.
    pub fn remove_publisher(&mut self, publisher: usize) {
        debug_assert_eq!(publisher + 1, self.publishers.len());
        self.publishers.truncate(publisher);
    }

    /// Every publisher forgets what changed so far: its next changes start after `update_id`.
    pub fn forget_dirty(&mut self) {
        for publisher in 0..self.publishers.len() {
            self.take_dirty(publisher);
        }
    }

    /// Whether any account order rests in the book.
    pub fn has_orders(&self) -> bool {
        self.bids.values().chain(self.asks.values()).any(|level| {
            level
                .entries
                .iter()
                .any(|e| matches!(e.owner, Owner::Order(_)))
        })
    }

    fn record(&mut self, side: Side, price: Ticks) {
        self.update_id += 1;
        let id = self.update_id;
        let total = self.side(side).get(&price).map_or(0, |l| l.total);
        for dirty in &mut self.publishers {
            dirty.first_id.get_or_insert(id);
            dirty.last_id = id;
            dirty.levels.insert((side, price), total);
        }
    }

    /// Rests `lots` at `price` behind everything already there.
    pub fn add(&mut self, side: Side, price: Ticks, owner: Owner, lots: Lots) {
        if lots <= 0 {
            return;
        }
        let level = self.side_mut(side).entry(price).or_default();
        level.entries.push_back(Entry { owner, lots });
        level.total += lots;
        self.record(side, price);
    }

    /// Removes what is left of a user order; returns the lots removed.
    pub fn remove_order(&mut self, side: Side, price: Ticks, order: u64) -> Lots {
        let book = self.side_mut(side);
        let Some(level) = book.get_mut(&price) else {
            return 0;
        };
        let Some(at) = level
            .entries
            .iter()
            .position(|e| e.owner == Owner::Order(order))
        else {
            return 0;
        };
        let removed = level.entries.remove(at).map_or(0, |e| e.lots);
        level.total -= removed;
        if level.total == 0 {
            book.remove(&price);
        }
        self.record(side, price);
        removed
    }

    /// Lowers what is left of a user order to `rest` lots where it stands (keeping its place
    /// in the queue); returns false if the order does not rest at `price`.
    pub fn reduce_order(&mut self, side: Side, price: Ticks, order: u64, rest: Lots) -> bool {
        let Some(level) = self.side_mut(side).get_mut(&price) else {
            return false;
        };
        let Some(entry) = level
            .entries
            .iter_mut()
            .find(|e| e.owner == Owner::Order(order))
        else {
            return false;
        };
        let cut = entry.lots - rest.max(0);
        entry.lots -= cut;
        level.total -= cut;
        level.entries.retain(|e| e.lots > 0);
        if level.total == 0 {
            self.side_mut(side).remove(&price);
        }
        self.record(side, price);
        true
    }

    /// Who rests at `price`, front of the queue first.
    #[cfg(test)]
    pub fn owners_at(&self, side: Side, price: Ticks) -> Vec<Owner> {
        let book = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        book.get(&price)
            .map(|l| l.entries.iter().map(|e| e.owner).collect())
            .unwrap_or_default()
    }

    /// Withdraws up to `lots` of synthetic liquidity from the back of a level.
    pub fn withdraw_synthetic(&mut self, side: Side, price: Ticks, lots: Lots) -> Lots {
        let book = self.side_mut(side);
        let Some(level) = book.get_mut(&price) else {
            return 0;
        };
        let mut left = lots;
        let mut at = level.entries.len();
        while left > 0 && at > 0 {
            at -= 1;
            let entry = &mut level.entries[at];
            if entry.owner == Owner::Synthetic {
                let take = entry.lots.min(left);
                entry.lots -= take;
                left -= take;
                if entry.lots == 0 {
                    level.entries.remove(at);
                }
            }
        }
        let removed = lots - left;
        level.total -= removed;
        if level.total == 0 {
            book.remove(&price);
        }
        if removed > 0 {
            self.record(side, price);
        }
        removed
    }

    /// Executes an incoming `taker` order against the opposite side, best price first, FIFO
    /// within a level, while its `limit` allows. `budget` (price·lots units) caps the notional
    /// for market orders by quote amount. Returns the matches in execution order.
    pub fn take(
        &mut self,
        taker: Side,
        limit: Option<Ticks>,
        mut lots: Lots,
        mut budget: Option<i128>,
    ) -> Vec<Match> {
        let mut matches = Vec::new();
        let maker_side = taker.opposite();
        while lots > 0 {
            let best = match maker_side {
                Side::Sell => self.asks.keys().next().copied(),
                Side::Buy => self.bids.keys().next_back().copied(),
            };
            let Some(price) = best else { break };
            if !crosses(taker, price, limit) {
                break;
            }
            if let Some(b) = budget {
                let affordable = (b / price as i128).min(lots as i128) as Lots;
                if affordable <= 0 {
                    break;
                }
                lots = affordable;
            }
            let level = self
                .side_mut(maker_side)
                .get_mut(&price)
                .expect("best level exists");
            while lots > 0 {
                let Some(front) = level.entries.front_mut() else {
                    break;
                };
                let fill = front.lots.min(lots);
                front.lots -= fill;
                lots -= fill;
                level.total -= fill;
                matches.push(Match {
                    maker: front.owner,
                    price,
                    lots: fill,
                });
                if let Some(b) = budget.as_mut() {
                    *b -= fill as i128 * price as i128;
                }
                if front.lots == 0 {
                    level.entries.pop_front();
                }
                if budget.is_some_and(|b| b < price as i128) {
                    lots = 0;
                }
            }
            if level.total == 0 {
                self.side_mut(maker_side).remove(&price);
            }
            self.record(maker_side, price);
        }
        matches
    }

    pub fn best(&self, side: Side) -> Option<(Ticks, Lots)> {
        match side {
            Side::Buy => self.bids.iter().next_back().map(|(p, l)| (*p, l.total)),
            Side::Sell => self.asks.iter().next().map(|(p, l)| (*p, l.total)),
        }
    }

    /// Up to `n` levels: bids best (highest) first, asks best (lowest) first.
    pub fn levels(&self, side: Side, n: usize) -> Vec<(Ticks, Lots)> {
        match side {
            Side::Buy => self
                .bids
                .iter()
                .rev()
                .take(n)
                .map(|(p, l)| (*p, l.total))
                .collect(),
            Side::Sell => self
                .asks
                .iter()
                .take(n)
                .map(|(p, l)| (*p, l.total))
                .collect(),
        }
    }

    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Synthetic lots resting at a level (the rest belongs to user orders).
    pub fn synthetic_at(&self, side: Side, price: Ticks) -> Lots {
        self.side(side).get(&price).map_or(0, |l| {
            l.entries
                .iter()
                .filter(|e| e.owner == Owner::Synthetic)
                .map(|e| e.lots)
                .sum()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_time_priority_within_and_across_levels() {
        let mut book = Book::default();
        book.add(Side::Sell, 101, Owner::Order(1), 5);
        book.add(Side::Sell, 100, Owner::Synthetic, 3);
        book.add(Side::Sell, 100, Owner::Order(2), 4);
        let matches = book.take(Side::Buy, Some(101), 10, None);
        assert_eq!(
            matches,
            vec![
                Match {
                    maker: Owner::Synthetic,
                    price: 100,
                    lots: 3
                },
                Match {
                    maker: Owner::Order(2),
                    price: 100,
                    lots: 4
                },
                Match {
                    maker: Owner::Order(1),
                    price: 101,
                    lots: 3
                },
            ]
        );
        assert_eq!(book.best(Side::Sell), Some((101, 2)));
    }

    #[test]
    fn limit_stops_matching_and_budget_caps_notional() {
        let mut book = Book::default();
        book.add(Side::Buy, 99, Owner::Synthetic, 10);
        book.add(Side::Buy, 98, Owner::Synthetic, 10);
        assert_eq!(
            book.take(Side::Sell, Some(99), 15, None)
                .iter()
                .map(|m| m.lots)
                .sum::<i64>(),
            10
        );
        book.add(Side::Sell, 100, Owner::Synthetic, 10);
        // Budget of 350 price·lots buys 3 lots at 100.
        let bought = book.take(Side::Buy, None, i64::MAX, Some(350));
        assert_eq!(
            bought,
            vec![Match {
                maker: Owner::Synthetic,
                price: 100,
                lots: 3
            }]
        );
    }

    #[test]
    fn every_level_change_is_recorded_for_each_publisher() {
        let mut book = Book::default();
        let fast = book.add_publisher();
        let slow = book.add_publisher();
        book.add(Side::Buy, 10, Owner::Synthetic, 5);
        book.add(Side::Buy, 10, Owner::Order(7), 1);
        let d = book.take_dirty(fast);
        assert_eq!((d.first_id, d.last_id), (Some(1), 2));
        assert_eq!(d.levels[&(Side::Buy, 10)], 6);
        assert_eq!(book.remove_order(Side::Buy, 10, 7), 1);
        let d = book.take_dirty(fast);
        assert_eq!((d.first_id, d.last_id), (Some(3), 3));
        assert_eq!(d.levels[&(Side::Buy, 10)], 5);
        let d = book.take_dirty(slow);
        assert_eq!(
            (d.first_id, d.last_id, d.levels[&(Side::Buy, 10)]),
            (Some(1), 3, 5)
        );
        assert_eq!(book.withdraw_synthetic(Side::Buy, 10, 9), 5);
        assert_eq!(book.best(Side::Buy), None);
        assert_eq!(book.take_dirty(fast).levels[&(Side::Buy, 10)], 0);
    }

    #[test]
    fn withdrawing_synthetic_never_touches_user_orders() {
        let mut book = Book::default();
        book.add(Side::Sell, 5, Owner::Synthetic, 2);
        book.add(Side::Sell, 5, Owner::Order(1), 3);
        book.add(Side::Sell, 5, Owner::Synthetic, 4);
        assert_eq!(book.withdraw_synthetic(Side::Sell, 5, 100), 6);
        assert_eq!(book.best(Side::Sell), Some((5, 3)));
        assert_eq!(book.synthetic_at(Side::Sell, 5), 0);
    }
}
