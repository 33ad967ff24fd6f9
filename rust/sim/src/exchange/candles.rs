//! Candles made from the market's own trades, as the venues make theirs: UTC-aligned (weeks
//! from Monday, months from the 1st), a candle for every interval since the symbol listed
//! whether it traded or not (one without trades opens, closes and stays at the last price,
//! volume 0), the current one open. Trades are kept as 1 s candles for three days; longer
//! intervals are summed from them when asked.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

/// A candle length: fixed milliseconds, or the calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    Ms(i64),
    Month,
}

const DAY: i64 = 86_400_000;

impl Span {
    /// Binance's interval names (`1s` … `1M`; USD-M has no `1s`).
    pub fn binance(name: &str, spot: bool) -> Option<Span> {
        let minutes = |n: i64| Some(Span::Ms(n * 60_000));
        match name {
            "1s" if spot => Some(Span::Ms(1_000)),
            "1m" => minutes(1),
            "3m" => minutes(3),
            "5m" => minutes(5),
            "15m" => minutes(15),
            "30m" => minutes(30),
            "1h" => minutes(60),
            "2h" => minutes(120),
            "4h" => minutes(240),
            "6h" => minutes(360),
            "8h" => minutes(480),
            "12h" => minutes(720),
            "1d" => Some(Span::Ms(DAY)),
            "3d" => Some(Span::Ms(3 * DAY)),
            "1w" => Some(Span::Ms(7 * DAY)),
            "1M" => Some(Span::Month),
            _ => None,
        }
    }

    /// Bybit's (`1` … `720` minutes, `D`, `W`, `M`).
    pub fn bybit(name: &str) -> Option<Span> {
        match name {
            "1" | "3" | "5" | "15" | "30" | "60" | "120" | "240" | "360" | "720" => {
                name.parse::<i64>().ok().map(|m| Span::Ms(m * 60_000))
            }
            "D" => Some(Span::Ms(DAY)),
            "W" => Some(Span::Ms(7 * DAY)),
            "M" => Some(Span::Month),
            _ => None,
        }
    }

    /// The open time of the candle holding `time_ms`.
    pub fn open_of(self, time_ms: i64) -> i64 {
        match self {
            Span::Month => month_start(time_ms.div_euclid(DAY), 0) * DAY,
            // 1970-01-01 was a Thursday: Monday-aligned weeks start 3 days before.
            Span::Ms(ms) if ms == 7 * DAY => (time_ms + 3 * DAY).div_euclid(ms) * ms - 3 * DAY,
            Span::Ms(ms) => time_ms.div_euclid(ms) * ms,
        }
    }

    pub fn next_open(self, open_ms: i64) -> i64 {
        match self {
            Span::Month => month_start(open_ms.div_euclid(DAY), 1) * DAY,
            Span::Ms(ms) => open_ms + ms,
        }
    }

    pub fn previous_open(self, open_ms: i64) -> i64 {
        self.open_of(open_ms - 1)
    }
}

/// The first day of the month `months` after the one holding day `days` since 1970-01-01.
fn month_start(days: i64, months: u8) -> i64 {
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1).expect("valid");
    let date = epoch + time::Duration::days(days);
    let (mut year, mut month) = (date.year(), date.month());
    for _ in 0..months {
        if month == time::Month::December {
            year += 1;
        }
        month = month.next();
    }
    let first = time::Date::from_calendar_date(year, month, 1).expect("valid");
    (first - epoch).whole_days()
}

/// One candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    pub open_ms: i64,
    /// Its last millisecond.
    pub close_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub quote_volume: Decimal,
    pub trades: u64,
    pub taker_buy_volume: Decimal,
    pub taker_buy_quote_volume: Decimal,
    /// First and last trade ids (`None`: no trades).
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
}

impl Candle {
    fn flat(open_ms: i64, close_ms: i64, price: Decimal) -> Candle {
        Candle {
            open_ms,
            close_ms,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Decimal::ZERO,
            quote_volume: Decimal::ZERO,
            trades: 0,
            taker_buy_volume: Decimal::ZERO,
            taker_buy_quote_volume: Decimal::ZERO,
            first_id: None,
            last_id: None,
        }
    }

    fn absorb(&mut self, other: &Candle) {
        if other.trades == 0 {
            return;
        }
        if self.trades == 0 {
            (self.open, self.high, self.low) = (other.open, other.high, other.low);
            self.first_id = other.first_id;
        } else {
            self.high = self.high.max(other.high);
            self.low = self.low.min(other.low);
        }
        self.close = other.close;
        self.volume += other.volume;
        self.quote_volume += other.quote_volume;
        self.trades += other.trades;
        self.taker_buy_volume += other.taker_buy_volume;
        self.taker_buy_quote_volume += other.taker_buy_quote_volume;
        self.last_id = other.last_id;
    }
}

/// How long trades are kept (as 1 s candles).
const KEEP_MS: i64 = 3 * DAY;

/// One symbol's trades as 1 s candles since it listed.
#[derive(Debug, Clone)]
pub struct Candles {
    listed_ms: Option<i64>,
    seconds: BTreeMap<i64, Candle>,
    start_price: Decimal,
}

impl Candles {
    pub fn new(start_price: Decimal) -> Candles {
        Candles {
            listed_ms: None,
            seconds: BTreeMap::new(),
            start_price,
        }
    }

    /// Lists the symbol at `now_ms` if it is not yet: no candle opens before.
    pub fn list(&mut self, now_ms: i64) {
        self.listed_ms.get_or_insert(now_ms);
    }

    pub fn record(&mut self, time_ms: i64, id: u64, price: Decimal, qty: Decimal, taker_buy: bool) {
        self.list(time_ms);
        let open_ms = time_ms.div_euclid(1_000) * 1_000;
        let quote = price * qty;
        let trade = Candle {
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            quote_volume: quote,
            trades: 1,
            taker_buy_volume: if taker_buy { qty } else { Decimal::ZERO },
            taker_buy_quote_volume: if taker_buy { quote } else { Decimal::ZERO },
            first_id: Some(id),
            last_id: Some(id),
            ..Candle::flat(open_ms, open_ms + 999, price)
        };
        self.seconds
            .entry(open_ms)
            .or_insert_with(|| Candle::flat(open_ms, open_ms + 999, price))
            .absorb(&trade);
        while let Some((&first, _)) = self.seconds.first_key_value() {
            if first >= time_ms - KEEP_MS {
                break;
            }
            self.seconds.pop_first();
        }
    }

    /// The last price before `time_ms` (the listing price if none).
    fn price_before(&self, time_ms: i64) -> Decimal {
        self.seconds
            .range(..time_ms)
            .next_back()
            .map_or(self.start_price, |(_, c)| c.close)
    }

    /// The candle of `span` opening at `open_ms`.
    pub fn candle(&self, span: Span, open_ms: i64) -> Candle {
        let next = span.next_open(open_ms);
        let mut candle = Candle::flat(open_ms, next - 1, self.price_before(open_ms));
        for second in self.seconds.range(open_ms..next).map(|(_, c)| c) {
            candle.absorb(second);
        }
        candle
    }

    /// At most `limit` candles opening in `from..=to`, oldest first: the oldest ones if
    /// `from_start`, else the latest; none before the listing or after now.
    pub fn range(
        &self,
        span: Span,
        from: Option<i64>,
        to: Option<i64>,
        now_ms: i64,
        limit: usize,
        from_start: bool,
    ) -> Vec<Candle> {
        let Some(listed) = self.listed_ms else {
            return Vec::new();
        };
        let first = span.open_of(from.unwrap_or(i64::MIN).max(listed));
        let first = if from.is_some_and(|f| f > first) {
            span.next_open(first)
        } else {
            first
        };
        let last = span.open_of(to.unwrap_or(now_ms).min(now_ms));
        let mut opens = Vec::new();
        if from_start {
            let mut open = first;
            while open <= last && opens.len() < limit {
                opens.push(open);
                open = span.next_open(open);
            }
        } else {
            let mut open = last;
            while open >= first && opens.len() < limit {
                opens.push(open);
                open = span.previous_open(open);
            }
            opens.reverse();
        }
        opens.into_iter().map(|o| self.candle(span, o)).collect()
    }
}

/// A connection's live candle streams: when each last sent which candle. A stream sends its
/// open candle every `every`, and the moment a candle ends its final state (closed) before the
/// next one. Candles that ended while nothing was sent (the clock jumped) are not sent: a
/// client reads them by REST, as after a reconnect on the venue.
#[derive(Debug, Default)]
pub struct KlinePacer {
    sent: std::collections::HashMap<String, (i64, tokio::time::Instant)>,
}

impl KlinePacer {
    /// What stream `name` sends now: `(candle, closed)` pairs, oldest first.
    pub fn due(
        &mut self,
        name: &str,
        span: Span,
        candles: &Candles,
        now_ms: i64,
        every: std::time::Duration,
    ) -> Vec<(Candle, bool)> {
        let instant = tokio::time::Instant::now();
        let current = span.open_of(now_ms);
        let mut out = Vec::new();
        match self.sent.get(name).copied() {
            Some((open, _)) if open < current => out.push((candles.candle(span, open), true)),
            Some((open, due)) if open == current && instant < due => return out,
            // The clock went back: the candle sent last is newer than now's; wait for it.
            Some((open, _)) if open > current => return out,
            _ => {}
        }
        out.push((candles.candle(span, current), false));
        self.sent
            .insert(name.to_owned(), (current, instant + every));
        out
    }

    pub fn forget(&mut self, name: &str) {
        self.sent.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn candles_sum_trades_and_carry_the_price_through_quiet_ones() {
        let mut c = Candles::new(d("100"));
        c.list(60_000);
        c.record(61_500, 1, d("101"), d("2"), true);
        c.record(62_000, 2, d("99"), d("1"), false);
        c.record(185_000, 3, d("102"), d("1"), true);
        let m = Span::Ms(60_000);
        let got = c.range(m, None, None, 200_000, 10, true);
        assert_eq!(got.len(), 3);
        let first = got[0];
        assert_eq!(
            (first.open, first.high, first.low, first.close),
            (d("101"), d("101"), d("99"), d("99"))
        );
        assert_eq!(
            (first.volume, first.trades, first.taker_buy_volume),
            (d("3"), 2, d("2"))
        );
        assert_eq!((first.first_id, first.last_id), (Some(1), Some(2)));
        // 120 000..180 000 had no trade: flat at the last price, volume 0.
        let quiet = got[1];
        assert_eq!(
            (quiet.open, quiet.close, quiet.volume, quiet.trades),
            (d("99"), d("99"), d("0"), 0)
        );
        assert_eq!(got[2].close, d("102"));
        // The latest 2, and a start inside a candle begins at the next one.
        let latest = c.range(m, None, None, 200_000, 2, false);
        assert_eq!(
            latest.iter().map(|c| c.open_ms).collect::<Vec<_>>(),
            [120_000, 180_000]
        );
        let later = c.range(m, Some(60_001), None, 200_000, 10, true);
        assert_eq!(later[0].open_ms, 120_000);
    }

    #[test]
    fn months_and_weeks_follow_the_calendar() {
        // 2024-02-14 (a Wednesday): the week opens Monday the 12th, the month the 1st.
        let t = 1_707_918_310_000;
        assert_eq!(Span::Ms(7 * DAY).open_of(t), 1_707_696_000_000);
        let feb = Span::Month.open_of(t);
        assert_eq!(feb, 1_706_745_600_000);
        assert_eq!(Span::Month.next_open(feb), 1_709_251_200_000);
        assert_eq!(Span::Month.previous_open(feb), 1_704_067_200_000);
    }
}
