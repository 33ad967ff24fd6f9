//! Candles: the interval names every venue maps to, and one candle (kline) as the venues report
//! it, open or closed. Times are Unix milliseconds in UTC; a candle spans
//! `open_time_ms..=close_time_ms`.

use rust_decimal::Decimal;

use super::{Source, Symbol};

/// A candle's length. The names are Binance's (case-sensitive: `1m` is a minute, `1M` a
/// month); each venue maps them to its own and refuses those it lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    S1,
    M1,
    M3,
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H6,
    H8,
    H12,
    D1,
    D3,
    W1,
    Mo1,
}

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

impl Interval {
    pub const ALL: &'static [Interval] = &[
        Interval::S1,
        Interval::M1,
        Interval::M3,
        Interval::M5,
        Interval::M15,
        Interval::M30,
        Interval::H1,
        Interval::H2,
        Interval::H4,
        Interval::H6,
        Interval::H8,
        Interval::H12,
        Interval::D1,
        Interval::D3,
        Interval::W1,
        Interval::Mo1,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::M1 => "1m",
            Interval::M3 => "3m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::M30 => "30m",
            Interval::H1 => "1h",
            Interval::H2 => "2h",
            Interval::H4 => "4h",
            Interval::H6 => "6h",
            Interval::H8 => "8h",
            Interval::H12 => "12h",
            Interval::D1 => "1d",
            Interval::D3 => "3d",
            Interval::W1 => "1w",
            Interval::Mo1 => "1M",
        }
    }

    /// Its length in milliseconds; `None` for the month, whose length varies.
    pub const fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Interval::S1 => SECOND,
            Interval::M1 => MINUTE,
            Interval::M3 => 3 * MINUTE,
            Interval::M5 => 5 * MINUTE,
            Interval::M15 => 15 * MINUTE,
            Interval::M30 => 30 * MINUTE,
            Interval::H1 => HOUR,
            Interval::H2 => 2 * HOUR,
            Interval::H4 => 4 * HOUR,
            Interval::H6 => 6 * HOUR,
            Interval::H8 => 8 * HOUR,
            Interval::H12 => 12 * HOUR,
            Interval::D1 => DAY,
            Interval::D3 => 3 * DAY,
            Interval::W1 => 7 * DAY,
            Interval::Mo1 => return None,
        })
    }

    /// At most how long one candle lasts (31 days for the month): for sizing time windows.
    pub const fn max_ms(self) -> i64 {
        match self.fixed_ms() {
            Some(ms) => ms,
            None => 31 * DAY,
        }
    }

    /// The open time of the candle holding `time_ms`: UTC-aligned, weeks from Monday
    /// (as both venues align them), months from the 1st.
    pub fn open_of(self, time_ms: i64) -> i64 {
        match self {
            Interval::Mo1 => month_start(time_ms.div_euclid(DAY), 0) * DAY,
            // 1970-01-01 was a Thursday: Monday-aligned weeks start 3 days before.
            Interval::W1 => (time_ms + 3 * DAY).div_euclid(7 * DAY) * 7 * DAY - 3 * DAY,
            other => {
                let ms = other.max_ms();
                time_ms.div_euclid(ms) * ms
            }
        }
    }

    /// The open time of the candle after the one opening at `open_ms`.
    pub fn next_open(self, open_ms: i64) -> i64 {
        match self.fixed_ms() {
            Some(ms) => open_ms.saturating_add(ms),
            None => month_start(open_ms.div_euclid(DAY), 1) * DAY,
        }
    }

    /// The last millisecond of the candle opening at `open_ms`.
    pub fn close_of(self, open_ms: i64) -> i64 {
        self.next_open(open_ms).saturating_sub(1)
    }
}

/// The first day of the month holding day `days` (since 1970-01-01), `months` months on, in
/// days since 1970-01-01.
fn month_start(days: i64, months: u8) -> i64 {
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1).expect("valid");
    let Some(date) = epoch.checked_add(time::Duration::days(days)) else {
        return days;
    };
    let (mut year, mut month) = (date.year(), date.month());
    for _ in 0..months {
        if month == time::Month::December {
            year = year.saturating_add(1);
        }
        month = month.next();
    }
    time::Date::from_calendar_date(year, month, 1)
        .map_or(days, |first| (first - epoch).whole_days())
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Interval {
    type Err = crate::Error;

    /// Exact names; other spellings only where they cannot mean two things (`1H`, `1D`, `1W`
    /// and `1mo` do; `1m` is always the minute and `1M` the month).
    fn from_str(text: &str) -> crate::Result<Self> {
        let exact = |t: &str| Interval::ALL.iter().copied().find(|i| i.as_str() == t);
        let folded = text.to_ascii_lowercase();
        exact(text)
            .or_else(|| {
                if folded == "1mo" {
                    Some(Interval::Mo1)
                } else if folded.ends_with(['s', 'h', 'd', 'w']) {
                    exact(&folded)
                } else {
                    None
                }
            })
            .ok_or_else(|| {
                let allowed: Vec<&str> = Interval::ALL.iter().map(|i| i.as_str()).collect();
                crate::Error::invalid_argument(
                    "Interval",
                    format!("'{text}' is not one of {}", allowed.join(", ")),
                )
            })
    }
}

/// One candle. Open while `closed` is false (its close, high, low and volumes are so far);
/// closed candles are final. Trade count and taker-buy volumes are `None` where the venue
/// does not report them (Bybit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kline {
    pub source: Source,
    pub symbol: Symbol,
    pub interval: Interval,
    pub open_time_ms: i64,
    pub close_time_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    /// In the base asset (contracts' underlying for linear).
    pub volume: Decimal,
    /// In the quote asset.
    pub quote_volume: Decimal,
    pub trades: Option<u64>,
    pub taker_buy_volume: Option<Decimal>,
    pub taker_buy_quote_volume: Option<Decimal>,
    pub closed: bool,
    /// When the venue sent it (REST: the candle's close time, or the open time of an open one).
    pub exchange_time_ms: i64,
    pub local_time_ns: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_case_matters_only_for_minute_and_month() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>().unwrap(), *i);
        }
        assert_eq!("1M".parse::<Interval>().unwrap(), Interval::Mo1);
        assert_eq!("1m".parse::<Interval>().unwrap(), Interval::M1);
        assert_eq!("1H".parse::<Interval>().unwrap(), Interval::H1);
        assert_eq!("1MO".parse::<Interval>().unwrap(), Interval::Mo1);
        assert!("15M".parse::<Interval>().is_err());
        assert!("2d".parse::<Interval>().is_err());
    }

    #[test]
    fn candles_align_to_utc_weeks_from_monday_and_calendar_months() {
        // 2024-02-14 13:45:10 UTC, a Wednesday.
        let t = 1_707_918_310_000;
        assert_eq!(Interval::M1.open_of(t), 1_707_918_300_000);
        assert_eq!(Interval::D1.open_of(t), 1_707_868_800_000);
        // Monday 2024-02-12.
        assert_eq!(Interval::W1.open_of(t), 1_707_696_000_000);
        // 2024-02-01, and a leap February lasts 29 days.
        let feb = Interval::Mo1.open_of(t);
        assert_eq!(feb, 1_706_745_600_000);
        assert_eq!(Interval::Mo1.next_open(feb), 1_709_251_200_000);
        assert_eq!(Interval::Mo1.close_of(feb), 1_709_251_199_999);
        // December rolls into the next year.
        let dec = 1_733_011_200_000; // 2024-12-01
        assert_eq!(Interval::Mo1.next_open(dec), 1_735_689_600_000);
        // A Binance USD-M 1M candle as recorded (2022-05): t=1651363200000, T=1654041599999.
        assert_eq!(Interval::Mo1.close_of(1_651_363_200_000), 1_654_041_599_999);
    }
}
