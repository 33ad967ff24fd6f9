//! Venue-neutral domain types. Venue wire formats live in `venue/*/messages.rs` and convert
//! into these; nothing here knows a venue's field letters.

mod decimal;
mod id;
mod kline;
mod symbol;
mod types;

pub use decimal::{DecimalError, TEXT_MAX, parse_decimal, write_decimal};
pub use id::Id;
pub use kline::{Interval, Kline};
pub use rust_decimal::Decimal;
pub use symbol::{Symbol, WIRE_SYMBOLS};
pub use types::*;

/// Declares a fieldless enum with its canonical upper-case names, `as_str`, `ALL` and `FromStr`.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;

            fn from_str(text: &str) -> crate::Result<Self> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(text))
                    .ok_or_else(|| {
                        let allowed: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        crate::Error::invalid_argument(
                            stringify!($name),
                            format!("'{text}' is not one of {}", allowed.join(", ")),
                        )
                    })
            }
        }
    };
}

named_enum! {
    /// An exchange.
    Venue { Binance = "binance", Bybit = "bybit" }
}

named_enum! {
    /// How a derivatives position's margin is held: shared by the account (cross), kept per
    /// position (isolated), or Bybit's portfolio margin.
    MarginMode { Cross = "CROSS", Isolated = "ISOLATED", Portfolio = "PORTFOLIO" }
}

named_enum! {
    /// One position per symbol (one-way), or a long and a short one side by side (hedge).
    PositionMode { OneWay = "ONE_WAY", Hedge = "HEDGE" }
}

named_enum! {
    /// A product line of a venue: Binance `spot`/`usdm`, Bybit `spot`/`linear`.
    Market { Spot = "spot", Usdm = "usdm", Linear = "linear" }
}

impl Market {
    /// The markets each venue offers through tradewire.
    pub fn of(venue: Venue) -> &'static [Market] {
        match venue {
            Venue::Binance => &[Market::Spot, Market::Usdm],
            Venue::Bybit => &[Market::Spot, Market::Linear],
        }
    }

    pub fn is_derivative(self) -> bool {
        !matches!(self, Market::Spot)
    }
}

named_enum! {
    Side { Buy = "BUY", Sell = "SELL" }
}

named_enum! {
    OrderType { Limit = "LIMIT", Market = "MARKET" }
}

named_enum! {
    /// `PostOnly` is Binance USD-M `GTX`, Bybit `PostOnly` and Binance spot `LIMIT_MAKER`.
    TimeInForce { Gtc = "GTC", Ioc = "IOC", Fok = "FOK", PostOnly = "POST_ONLY" }
}

named_enum! {
    /// One order status for every venue. Binance: NEW, PENDING_NEW, PARTIALLY_FILLED, FILLED,
    /// CANCELED, PENDING_CANCEL, REJECTED, EXPIRED, EXPIRED_IN_MATCH. Bybit v5: Created (→
    /// PENDING_NEW), New, PartiallyFilled, Untriggered, Triggered, Filled, Cancelled,
    /// PartiallyFilledCanceled, Rejected, Deactivated. `Unknown`: sent, fate not yet known.
    OrderStatus {
        Unknown = "UNKNOWN",
        PendingNew = "PENDING_NEW",
        Untriggered = "UNTRIGGERED",
        Triggered = "TRIGGERED",
        New = "NEW",
        PartiallyFilled = "PARTIALLY_FILLED",
        PendingCancel = "PENDING_CANCEL",
        Filled = "FILLED",
        Canceled = "CANCELED",
        PartiallyFilledCanceled = "PARTIALLY_FILLED_CANCELED",
        Rejected = "REJECTED",
        Expired = "EXPIRED",
        ExpiredInMatch = "EXPIRED_IN_MATCH",
        Deactivated = "DEACTIVATED",
    }
}

impl OrderStatus {
    /// Nothing leaves a terminal status (fills may still be applied, see the order state machine).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::PartiallyFilledCanceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
                | OrderStatus::ExpiredInMatch
                | OrderStatus::Deactivated
        )
    }

    pub fn is_open(self) -> bool {
        !self.is_terminal() && self != OrderStatus::Unknown
    }
}

named_enum! {
    /// Which way the watched price must move to reach a conditional order's trigger.
    TriggerDirection { Rise = "RISE", Fall = "FALL" }
}

named_enum! {
    /// The price a conditional order watches: the last trade, the mark or the index price.
    TriggerBy { Last = "LAST", Mark = "MARK", Index = "INDEX" }
}

named_enum! {
    /// What a conditional order is for. A stop fires when the price moves against the order's
    /// side (a BUY when it rises to the trigger, a SELL when it falls to it); a take-profit
    /// the other way.
    TriggerKind { Stop = "STOP", TakeProfit = "TAKE_PROFIT" }
}

impl TriggerKind {
    /// The direction a trigger of this kind waits for on an order of `side`.
    pub fn direction(self, side: Side) -> TriggerDirection {
        match (self, side) {
            (TriggerKind::Stop, Side::Buy) | (TriggerKind::TakeProfit, Side::Sell) => {
                TriggerDirection::Rise
            }
            _ => TriggerDirection::Fall,
        }
    }

    /// The kind an order of `side` waiting for `direction` is.
    pub fn of(direction: TriggerDirection, side: Side) -> TriggerKind {
        if TriggerKind::Stop.direction(side) == direction {
            TriggerKind::Stop
        } else {
            TriggerKind::TakeProfit
        }
    }
}

named_enum! {
    /// A position's direction; LONG and SHORT also name the two legs of hedge mode.
    PositionSide { Long = "LONG", Short = "SHORT", Flat = "FLAT" }
}

impl PositionSide {
    /// Whether an order of `side` on this hedge-mode leg closes it (SELL on LONG, BUY on SHORT).
    pub fn closed_by(self, side: Side) -> bool {
        matches!(
            (self, side),
            (PositionSide::Long, Side::Sell) | (PositionSide::Short, Side::Buy)
        )
    }

    /// Whether an order can only reduce: flagged so, or closing its hedge-mode `leg`.
    pub fn reduces(leg: Option<PositionSide>, side: Side, flagged: bool) -> bool {
        flagged || leg.is_some_and(|l| l.closed_by(side))
    }
}

/// Local wall-clock time in Unix nanoseconds, stamped on events as they are received.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
