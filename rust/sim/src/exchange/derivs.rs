//! A perpetual's derivatives data, venue-neutral: the index price (the last trade, the spot
//! reference a perpetual tracks), the funding rate from the premium of the mark over it, a
//! funding every 8 h from 00:00 UTC with a deterministic past (a year of it, so clients can page
//! through history), open interest moved by each trade, and a liquidation every
//! [`LIQUIDATION_EVERY`] trades.

use rust_decimal::Decimal;

use super::{Event, Exchange, Kind};
use crate::book::Side;

pub const FUNDING_INTERVAL_MS: i64 = 8 * 3_600_000;
/// How far back fundings go.
const FUNDING_HISTORY_MS: i64 = 365 * 24 * 3_600_000;
/// Every this many trades of a perpetual, one is a liquidation's.
pub const LIQUIDATION_EVERY: u64 = 40;

/// The funding after `now_ms`.
pub fn next_funding_ms(now_ms: i64) -> i64 {
    (now_ms.div_euclid(FUNDING_INTERVAL_MS) + 1) * FUNDING_INTERVAL_MS
}

/// The rate of the funding at `time_ms` (an 8 h boundary): 0.0001 plus a deterministic wobble
/// of up to ±0.0001 in steps of 0.00001.
pub fn past_rate(symbol: &str, time_ms: i64) -> Decimal {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in symbol.bytes().chain(time_ms.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let wobble = (h % 21) as i64 - 10;
    Decimal::new(10 + wobble, 5)
}

/// At most `limit` fundings (time, rate) in `from..=to` no later than now, oldest first: the
/// oldest from `from` if `from_start`, else the latest.
pub fn fundings(
    symbol: &str,
    from: Option<i64>,
    to: Option<i64>,
    now_ms: i64,
    limit: usize,
    from_start: bool,
) -> Vec<(i64, Decimal)> {
    let latest = now_ms.div_euclid(FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS;
    let earliest = latest - FUNDING_HISTORY_MS;
    let first = from.map_or(earliest, |f| {
        (f + FUNDING_INTERVAL_MS - 1).div_euclid(FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
    });
    let first = first.max(earliest);
    let last = to.map_or(latest, |t| {
        t.div_euclid(FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
    });
    let last = last.min(latest);
    let mut times = Vec::new();
    if from_start {
        let mut t = first;
        while t <= last && times.len() < limit {
            times.push(t);
            t += FUNDING_INTERVAL_MS;
        }
    } else {
        let mut t = last;
        while t >= first && times.len() < limit {
            times.push(t);
            t -= FUNDING_INTERVAL_MS;
        }
        times.reverse();
    }
    times
        .into_iter()
        .map(|t| (t, past_rate(symbol, t)))
        .collect()
}

impl Exchange {
    /// The index price: the last trade, the reference a perpetual tracks.
    pub fn index_price(&self, symbol: &str) -> Decimal {
        self.symbols
            .get(symbol)
            .map_or(Decimal::ZERO, |s| s.last_price)
    }

    /// The coming funding's rate: the mark's premium over the index plus 0.01% interest,
    /// clamped to ±0.75%, 8 decimals.
    pub fn funding_rate(&self, symbol: &str) -> Decimal {
        let index = self.index_price(symbol);
        if index.is_zero() {
            return Decimal::new(1, 4);
        }
        let premium = (self.mark(symbol) - index) / index;
        let cap = Decimal::new(75, 4);
        (premium + Decimal::new(1, 4)).clamp(-cap, cap).round_dp(8)
    }

    /// A trade's effect on open interest and, every [`LIQUIDATION_EVERY`] trades, the
    /// liquidation it is (perpetuals only).
    pub(super) fn derivative_trade(
        &mut self,
        symbol: &str,
        id: u64,
        price: Decimal,
        qty: Decimal,
        taker: Side,
        now_ms: i64,
    ) {
        if self.kind != Kind::Perp {
            return;
        }
        let s = self.symbols.get_mut(symbol).expect("symbol");
        s.open_interest = match taker {
            Side::Buy => s.open_interest + qty,
            Side::Sell => (s.open_interest - qty).max(Decimal::ZERO),
        };
        if id.is_multiple_of(LIQUIDATION_EVERY) {
            self.emit(Event::Liquidation {
                symbol: symbol.to_owned(),
                side: taker,
                price,
                qty,
                time_ms: now_ms,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fundings_are_8_hours_apart_deterministic_and_page_without_gaps() {
        let now = 1_700_000_000_000;
        let all = fundings("BTCUSDT", None, None, now, 5, false);
        assert_eq!(all.len(), 5);
        assert!(
            all.windows(2)
                .all(|w| w[1].0 - w[0].0 == FUNDING_INTERVAL_MS)
        );
        assert!(all.last().unwrap().0 <= now);
        assert_eq!(all, fundings("BTCUSDT", None, None, now, 5, false));
        let first = fundings("BTCUSDT", Some(all[0].0), None, now, 2, true);
        let next = fundings("BTCUSDT", Some(first[1].0 + 1), None, now, 3, true);
        assert_eq!([first, next].concat(), all);
        assert!(all.iter().all(|(_, r)| r.abs() <= Decimal::new(2, 4)));
    }
}
