//! Frozen Python classes over the core's domain types. Getters convert lazily: a field nobody
//! reads costs nothing. Constructors take money as `Decimal | str | int` (see `convert`).

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyString};
use rust_decimal::Decimal;
use tradewire_core::model as m;

use crate::convert::{extract_decimal, extract_opt_decimal, to_py_decimal, to_py_opt_decimal};

type Money<'py> = PyResult<Bound<'py, PyAny>>;
type OptMoney<'py> = PyResult<Option<Bound<'py, PyAny>>>;

/// Mirrors a core enum as the `enum.StrEnum` of the same name in `tradewire/enums.py`: values
/// go to Python as its members (cached), and come from Python as any `str` of a member's text,
/// in any case (a member is one). A wrong text raises `InvalidArgument`, a non-str `TypeError`.
macro_rules! py_enum {
    ($name:ident { $($variant:ident = $py:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $variant ),+ }

        impl From<m::$name> for $name {
            fn from(v: m::$name) -> Self {
                match v { $( m::$name::$variant => $name::$variant ),+ }
            }
        }

        impl From<$name> for m::$name {
            fn from(v: $name) -> Self {
                match v { $( $name::$variant => m::$name::$variant ),+ }
            }
        }

        impl<'py> IntoPyObject<'py> for $name {
            type Target = PyAny;
            type Output = Bound<'py, PyAny>;
            type Error = PyErr;

            fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                static MEMBERS: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();
                let members = MEMBERS
                    .get_or_try_init(py, || enum_members(py, stringify!($name), &[$($py),+]))?;
                Ok(members[self as usize].bind(py).clone())
            }
        }

        impl<'a, 'py> FromPyObject<'a, 'py> for $name {
            type Error = PyErr;

            fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
                let text = enum_text(&obj, stringify!($name))?;
                text.parse::<m::$name>()
                    .map($name::from)
                    .map_err(|e| crate::errors::to_pyerr(obj.py(), e))
            }
        }
    };
}

/// The members of `tradewire.enums.<class>` named `names`, in that order.
fn enum_members(py: Python<'_>, class: &str, names: &[&str]) -> PyResult<Vec<Py<PyAny>>> {
    let class = py.import("tradewire.enums")?.getattr(class)?;
    names
        .iter()
        .map(|name| class.getattr(*name).map(Bound::unbind))
        .collect()
}

/// The text of a value given for an enum argument: a `str` (members are).
fn enum_text<'py>(obj: &Borrowed<'_, 'py, PyAny>, class: &str) -> PyResult<Cow<'py, str>> {
    match obj.cast::<PyString>() {
        Ok(text) => Ok(Cow::Owned(text.to_cow()?.into_owned())),
        Err(_) => Err(PyTypeError::new_err(format!(
            "expected tradewire.{class} or its text, not {}",
            obj.get_type().name()?
        ))),
    }
}

py_enum!(Venue { Binance = "BINANCE", Bybit = "BYBIT" });
py_enum!(Market { Spot = "SPOT", Usdm = "USDM", Linear = "LINEAR" });
py_enum!(Side { Buy = "BUY", Sell = "SELL" });
py_enum!(OrderType { Limit = "LIMIT", Market = "MARKET" });
py_enum!(TimeInForce { Gtc = "GTC", Ioc = "IOC", Fok = "FOK", PostOnly = "POST_ONLY" });
py_enum!(PositionSide { Long = "LONG", Short = "SHORT", Flat = "FLAT" });
py_enum!(TriggerKind { Stop = "STOP", TakeProfit = "TAKE_PROFIT" });
py_enum!(TriggerBy { Last = "LAST", Mark = "MARK", Index = "INDEX" });
py_enum!(TriggerDirection { Rise = "RISE", Fall = "FALL" });
py_enum!(Interval {
    S1 = "S1",
    M1 = "M1",
    M3 = "M3",
    M5 = "M5",
    M15 = "M15",
    M30 = "M30",
    H1 = "H1",
    H2 = "H2",
    H4 = "H4",
    H6 = "H6",
    H8 = "H8",
    H12 = "H12",
    D1 = "D1",
    D3 = "D3",
    W1 = "W1",
    Mo1 = "MN1",
});
py_enum!(OrderStatus {
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
});

fn source(venue: Venue, market: Market) -> m::Source {
    m::Source {
        venue: venue.into(),
        market: market.into(),
    }
}

/// Python-style repr pieces.
fn rd(value: Decimal) -> String {
    format!("Decimal('{value}')")
}

fn rod(value: Option<Decimal>) -> String {
    value.map_or_else(|| "None".to_owned(), rd)
}

/// Getters that only read one field of the wrapped core value, named after it, by how the
/// value crosses to Python: `money` / `opt_money` (`decimal.Decimal`), `text` (an id or name),
/// `value<T>` (as is), `into<T>` / `opt_into<T>` (a core enum as its `tradewire.enums` member).
/// Each is its own `#[pymethods]` block (the `multiple-pymethods` feature).
macro_rules! field_getters {
    ($ty:ident { $($field:ident : $how:ident $(< $t:ty >)?),+ $(,)? }) => {
        $( field_getters!(@one $ty $field $how $($t)?); )+
    };
    (@one $ty:ident $field:ident money) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field<'py>(&self, py: Python<'py>) -> Money<'py> {
                to_py_decimal(py, self.0.$field)
            }
        }
    };
    (@one $ty:ident $field:ident opt_money) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
                to_py_opt_decimal(py, self.0.$field)
            }
        }
    };
    (@one $ty:ident $field:ident text) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field(&self) -> &str {
                self.0.$field.as_str()
            }
        }
    };
    (@one $ty:ident $field:ident value $t:ty) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field(&self) -> $t {
                self.0.$field
            }
        }
    };
    (@one $ty:ident $field:ident into $t:ty) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field(&self) -> $t {
                self.0.$field.into()
            }
        }
    };
    (@one $ty:ident $field:ident opt_into $t:ty) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn $field(&self) -> Option<$t> {
                self.0.$field.map(Into::into)
            }
        }
    };
}

/// Getters shared by every event that carries `source` and `symbol`.
macro_rules! sourced_getters {
    ($ty:ident) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn venue(&self) -> Venue {
                self.0.source.venue.into()
            }
            #[getter]
            fn market(&self) -> Market {
                self.0.source.market.into()
            }
            #[getter]
            fn symbol(&self) -> &'static str {
                self.0.symbol.as_str()
            }
        }
    };
}

/// A public trade. `side` is the aggressor's side.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trade(pub m::Trade);
sourced_getters!(Trade);

#[pymethods]
impl Trade {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, trade_id, price, qty, side, exchange_time_ms, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        trade_id: &str,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        side: Side,
        exchange_time_ms: i64,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(Trade(m::Trade {
            source: source(venue, market),
            symbol: symbol.into(),
            trade_id: trade_id.into(),
            price: extract_decimal(price, "price")?,
            qty: extract_decimal(qty, "qty")?,
            side: side.into(),
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "Trade(venue={}, market={}, symbol='{}', trade_id='{}', price={}, qty={}, side={}, exchange_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            t.trade_id,
            rd(t.price),
            rd(t.qty),
            t.side,
            t.exchange_time_ms
        )
    }
}

field_getters!(Trade {
    price: money,
    qty: money,
    trade_id: text,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
    side: into<Side>,
});

/// An aggregated trade (Binance `aggTrade`): the fills of one taker order at one price.
/// `side` is the aggressor's side.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AggTrade(pub m::AggTrade);
sourced_getters!(AggTrade);

#[pymethods]
impl AggTrade {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, agg_id, price, qty, side, exchange_time_ms,
        first_trade_id = None, last_trade_id = None, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        agg_id: u64,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        side: Side,
        exchange_time_ms: i64,
        first_trade_id: Option<u64>,
        last_trade_id: Option<u64>,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(AggTrade(m::AggTrade {
            source: source(venue, market),
            symbol: symbol.into(),
            agg_id,
            first_trade_id,
            last_trade_id,
            price: extract_decimal(price, "price")?,
            qty: extract_decimal(qty, "qty")?,
            side: side.into(),
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "AggTrade(venue={}, market={}, symbol='{}', agg_id={}, price={}, qty={}, side={}, exchange_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            t.agg_id,
            rd(t.price),
            rd(t.qty),
            t.side,
            t.exchange_time_ms
        )
    }
    #[getter]
    fn first_trade_id(&self) -> Option<u64> {
        self.0.first_trade_id
    }
    #[getter]
    fn last_trade_id(&self) -> Option<u64> {
        self.0.last_trade_id
    }
}

field_getters!(AggTrade {
    agg_id: value<u64>,
    price: money,
    qty: money,
    side: into<Side>,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// The best bid and offer of one venue's book; a side without a level is `None`, and both are
/// while the book is out of sync.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopOfBook(pub m::TopOfBook);
sourced_getters!(TopOfBook);

#[pymethods]
impl TopOfBook {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, bid = None, ask = None, update_id = None,
        exchange_time_ms = 0, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        bid: Option<PyRef<'_, Level>>,
        ask: Option<PyRef<'_, Level>>,
        update_id: Option<u64>,
        exchange_time_ms: i64,
        local_time_ns: i64,
    ) -> Self {
        TopOfBook(m::TopOfBook {
            source: source(venue, market),
            symbol: symbol.into(),
            bid: bid.map(|l| l.0),
            ask: ask.map(|l| l.0),
            update_id,
            exchange_time_ms,
            local_time_ns,
        })
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        let level = |l: Option<m::Level>| {
            l.map_or_else(|| "None".to_owned(), |l| format!("{} x {}", l.price, l.qty))
        };
        format!(
            "TopOfBook(venue={}, market={}, symbol='{}', bid={}, ask={}, update_id={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            level(t.bid),
            level(t.ask),
            t.update_id
                .map_or_else(|| "None".to_owned(), |v| v.to_string())
        )
    }
    #[getter]
    fn bid(&self) -> Option<Level> {
        self.0.bid.map(Level)
    }
    #[getter]
    fn ask(&self) -> Option<Level> {
        self.0.ask.map(Level)
    }
    #[getter]
    fn update_id(&self) -> Option<u64> {
        self.0.update_id
    }
}

field_getters!(TopOfBook {
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// A derivative's mark price, index price and funding (Binance `markPriceUpdate` / premium
/// index, Bybit linear tickers); `open_interest` where the same message carries it (Bybit).
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarkPrice(pub m::MarkPrice);
sourced_getters!(MarkPrice);

#[pymethods]
impl MarkPrice {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, mark_price, index_price = None,
        estimated_settle_price = None, funding_rate = None, next_funding_time_ms = None,
        open_interest = None, exchange_time_ms = 0, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        mark_price: &Bound<'_, PyAny>,
        index_price: Option<&Bound<'_, PyAny>>,
        estimated_settle_price: Option<&Bound<'_, PyAny>>,
        funding_rate: Option<&Bound<'_, PyAny>>,
        next_funding_time_ms: Option<i64>,
        open_interest: Option<&Bound<'_, PyAny>>,
        exchange_time_ms: i64,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(MarkPrice(m::MarkPrice {
            source: source(venue, market),
            symbol: symbol.into(),
            mark_price: extract_decimal(mark_price, "mark_price")?,
            index_price: extract_opt_decimal(index_price, "index_price")?,
            estimated_settle_price: extract_opt_decimal(
                estimated_settle_price,
                "estimated_settle_price",
            )?,
            funding_rate: extract_opt_decimal(funding_rate, "funding_rate")?,
            next_funding_time_ms,
            open_interest: extract_opt_decimal(open_interest, "open_interest")?,
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "MarkPrice(venue={}, market={}, symbol='{}', mark_price={}, index_price={}, funding_rate={}, next_funding_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            rd(t.mark_price),
            rod(t.index_price),
            rod(t.funding_rate),
            t.next_funding_time_ms
                .map_or_else(|| "None".to_owned(), |v| v.to_string())
        )
    }
    #[getter]
    fn next_funding_time_ms(&self) -> Option<i64> {
        self.0.next_funding_time_ms
    }
}

field_getters!(MarkPrice {
    mark_price: money,
    index_price: opt_money,
    estimated_settle_price: opt_money,
    funding_rate: opt_money,
    open_interest: opt_money,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// One funding that took place: its rate at its time (and the mark price then, Binance).
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FundingRate(pub m::FundingRate);
sourced_getters!(FundingRate);

#[pymethods]
impl FundingRate {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, rate, funding_time_ms, mark_price = None))]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        rate: &Bound<'_, PyAny>,
        funding_time_ms: i64,
        mark_price: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(FundingRate(m::FundingRate {
            source: source(venue, market),
            symbol: symbol.into(),
            rate: extract_decimal(rate, "rate")?,
            funding_time_ms,
            mark_price: extract_opt_decimal(mark_price, "mark_price")?,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "FundingRate(venue={}, market={}, symbol='{}', rate={}, funding_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            rd(t.rate),
            t.funding_time_ms
        )
    }
}

field_getters!(FundingRate {
    rate: money,
    funding_time_ms: value<i64>,
    mark_price: opt_money,
});

/// A derivative's open interest: contracts open, in the base asset.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenInterest(pub m::OpenInterest);
sourced_getters!(OpenInterest);

#[pymethods]
impl OpenInterest {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, open_interest, exchange_time_ms, local_time_ns = 0))]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        open_interest: &Bound<'_, PyAny>,
        exchange_time_ms: i64,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(OpenInterest(m::OpenInterest {
            source: source(venue, market),
            symbol: symbol.into(),
            open_interest: extract_decimal(open_interest, "open_interest")?,
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "OpenInterest(venue={}, market={}, symbol='{}', open_interest={}, exchange_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            rd(t.open_interest),
            t.exchange_time_ms
        )
    }
}

field_getters!(OpenInterest {
    open_interest: money,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// A forced liquidation: the liquidated position's side, price and size.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Liquidation(pub m::Liquidation);
sourced_getters!(Liquidation);

#[pymethods]
impl Liquidation {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, position_side, price, qty, exchange_time_ms,
        average_price = None, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        position_side: PositionSide,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        exchange_time_ms: i64,
        average_price: Option<&Bound<'_, PyAny>>,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(Liquidation(m::Liquidation {
            source: source(venue, market),
            symbol: symbol.into(),
            position_side: position_side.into(),
            price: extract_decimal(price, "price")?,
            qty: extract_decimal(qty, "qty")?,
            average_price: extract_opt_decimal(average_price, "average_price")?,
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "Liquidation(venue={}, market={}, symbol='{}', position_side={}, price={}, qty={}, exchange_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            t.position_side,
            rd(t.price),
            rd(t.qty),
            t.exchange_time_ms
        )
    }
}

field_getters!(Liquidation {
    position_side: into<PositionSide>,
    price: money,
    qty: money,
    average_price: opt_money,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// One candle: open while `closed` is False, final once closed. `trades` and the taker-buy
/// volumes are `None` where the venue does not report them (Bybit).
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kline(pub m::Kline);
sourced_getters!(Kline);

#[pymethods]
impl Kline {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, interval, open_time_ms, close_time_ms, open, high,
        low, close, volume, quote_volume, closed, trades = None, taker_buy_volume = None,
        taker_buy_quote_volume = None, exchange_time_ms = 0, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        interval: Interval,
        open_time_ms: i64,
        close_time_ms: i64,
        open: &Bound<'_, PyAny>,
        high: &Bound<'_, PyAny>,
        low: &Bound<'_, PyAny>,
        close: &Bound<'_, PyAny>,
        volume: &Bound<'_, PyAny>,
        quote_volume: &Bound<'_, PyAny>,
        closed: bool,
        trades: Option<u64>,
        taker_buy_volume: Option<&Bound<'_, PyAny>>,
        taker_buy_quote_volume: Option<&Bound<'_, PyAny>>,
        exchange_time_ms: i64,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(Kline(m::Kline {
            source: source(venue, market),
            symbol: symbol.into(),
            interval: interval.into(),
            open_time_ms,
            close_time_ms,
            open: extract_decimal(open, "open")?,
            high: extract_decimal(high, "high")?,
            low: extract_decimal(low, "low")?,
            close: extract_decimal(close, "close")?,
            volume: extract_decimal(volume, "volume")?,
            quote_volume: extract_decimal(quote_volume, "quote_volume")?,
            trades,
            taker_buy_volume: extract_opt_decimal(taker_buy_volume, "taker_buy_volume")?,
            taker_buy_quote_volume: extract_opt_decimal(
                taker_buy_quote_volume,
                "taker_buy_quote_volume",
            )?,
            closed,
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let k = &self.0;
        format!(
            "Kline(venue={}, market={}, symbol='{}', interval='{}', open_time_ms={}, open={}, high={}, low={}, close={}, volume={}, closed={})",
            k.source.venue,
            k.source.market,
            k.symbol,
            k.interval,
            k.open_time_ms,
            rd(k.open),
            rd(k.high),
            rd(k.low),
            rd(k.close),
            rd(k.volume),
            if k.closed { "True" } else { "False" },
        )
    }
    #[getter]
    fn trades(&self) -> Option<u64> {
        self.0.trades
    }
}

field_getters!(Kline {
    interval: into<Interval>,
    open_time_ms: value<i64>,
    close_time_ms: value<i64>,
    open: money,
    high: money,
    low: money,
    close: money,
    volume: money,
    quote_volume: money,
    taker_buy_volume: opt_money,
    taker_buy_quote_volume: opt_money,
    closed: value<bool>,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// A 24 h ticker. `bid`/`ask` are `None` where the venue's ticker lacks them.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ticker(pub m::Ticker);
sourced_getters!(Ticker);

#[pymethods]
impl Ticker {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, last, volume_24h, quote_volume_24h, exchange_time_ms,
        bid = None, bid_qty = None, ask = None, ask_qty = None, local_time_ns = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        last: &Bound<'_, PyAny>,
        volume_24h: &Bound<'_, PyAny>,
        quote_volume_24h: &Bound<'_, PyAny>,
        exchange_time_ms: i64,
        bid: Option<&Bound<'_, PyAny>>,
        bid_qty: Option<&Bound<'_, PyAny>>,
        ask: Option<&Bound<'_, PyAny>>,
        ask_qty: Option<&Bound<'_, PyAny>>,
        local_time_ns: i64,
    ) -> PyResult<Self> {
        Ok(Ticker(m::Ticker {
            source: source(venue, market),
            symbol: symbol.into(),
            last: extract_decimal(last, "last")?,
            bid: extract_opt_decimal(bid, "bid")?,
            bid_qty: extract_opt_decimal(bid_qty, "bid_qty")?,
            ask: extract_opt_decimal(ask, "ask")?,
            ask_qty: extract_opt_decimal(ask_qty, "ask_qty")?,
            volume_24h: extract_decimal(volume_24h, "volume_24h")?,
            quote_volume_24h: extract_decimal(quote_volume_24h, "quote_volume_24h")?,
            exchange_time_ms,
            local_time_ns,
        }))
    }
    fn __repr__(&self) -> String {
        let t = &self.0;
        format!(
            "Ticker(venue={}, market={}, symbol='{}', last={}, bid={}, ask={}, exchange_time_ms={})",
            t.source.venue,
            t.source.market,
            t.symbol,
            rd(t.last),
            rod(t.bid),
            rod(t.ask),
            t.exchange_time_ms
        )
    }
}

field_getters!(Ticker {
    last: money,
    volume_24h: money,
    quote_volume_24h: money,
    bid: opt_money,
    bid_qty: opt_money,
    ask: opt_money,
    ask_qty: opt_money,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// One price level of an order book.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Level(pub m::Level);

#[pymethods]
impl Level {
    #[new]
    fn new(price: &Bound<'_, PyAny>, qty: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Level(m::Level {
            price: extract_decimal(price, "price")?,
            qty: extract_decimal(qty, "qty")?,
        }))
    }
    fn __repr__(&self) -> String {
        format!("Level(price={}, qty={})", rd(self.0.price), rd(self.0.qty))
    }
}

field_getters!(Level {
    price: money,
    qty: money,
});

/// `(best bid + best ask) / 2` and `best ask - best bid` of a book's levels, if both sides
/// have one.
pub fn mid_and_spread(bids: &[m::Level], asks: &[m::Level]) -> Option<(Decimal, Decimal)> {
    let (bid, ask) = (bids.first()?.price, asks.first()?.price);
    Some((((bid + ask) / Decimal::TWO).normalize(), ask - bid))
}

fn levels(py: Python<'_>, levels: &[m::Level]) -> PyResult<Vec<Py<Level>>> {
    levels.iter().map(|l| Py::new(py, Level(*l))).collect()
}

/// A book at one update: its best levels a side and whether it is in sync. An unsynced view
/// has no levels.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookView(pub m::BookView);
sourced_getters!(BookView);

#[pymethods]
impl BookView {
    #[getter]
    fn is_synced(&self) -> bool {
        self.0.synced
    }
    /// Best first.
    #[getter]
    fn bids(&self, py: Python<'_>) -> PyResult<Vec<Py<Level>>> {
        levels(py, &self.0.bids)
    }
    /// Best first.
    #[getter]
    fn asks(&self, py: Python<'_>) -> PyResult<Vec<Py<Level>>> {
        levels(py, &self.0.asks)
    }
    #[getter]
    fn best_bid(&self) -> Option<Level> {
        self.0.bids.first().copied().map(Level)
    }
    #[getter]
    fn best_ask(&self) -> Option<Level> {
        self.0.asks.first().copied().map(Level)
    }
    #[getter]
    fn mid<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
        to_py_opt_decimal(
            py,
            mid_and_spread(&self.0.bids, &self.0.asks).map(|(m, _)| m),
        )
    }
    #[getter]
    fn spread<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
        to_py_opt_decimal(
            py,
            mid_and_spread(&self.0.bids, &self.0.asks).map(|(_, s)| s),
        )
    }
    fn __repr__(&self) -> String {
        let v = &self.0;
        let price = |l: Option<&m::Level>| rod(l.map(|l| l.price));
        format!(
            "BookView(venue={}, market={}, symbol='{}', is_synced={}, update_id={}, best_bid={}, best_ask={}, levels={}/{})",
            v.source.venue,
            v.source.market,
            v.symbol,
            if v.synced { "True" } else { "False" },
            v.update_id
                .map_or_else(|| "None".to_owned(), |u| u.to_string()),
            price(v.bids.first()),
            price(v.asks.first()),
            v.bids.len(),
            v.asks.len()
        )
    }
}

field_getters!(BookView {
    update_id: value<Option<u64>>,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// One change of a book (`book_diffs`): every level it set, quantity 0 for a removed one. A
/// reset starts the book over: drop every level first.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookDiff(pub m::BookDiff);
sourced_getters!(BookDiff);

#[pymethods]
impl BookDiff {
    #[getter]
    fn is_synced(&self) -> bool {
        self.0.synced
    }
    #[getter]
    fn is_reset(&self) -> bool {
        self.0.reset
    }
    /// In the order the book changed them.
    #[getter]
    fn bids(&self, py: Python<'_>) -> PyResult<Vec<Py<Level>>> {
        levels(py, &self.0.bids)
    }
    /// In the order the book changed them.
    #[getter]
    fn asks(&self, py: Python<'_>) -> PyResult<Vec<Py<Level>>> {
        levels(py, &self.0.asks)
    }
    fn __repr__(&self) -> String {
        let v = &self.0;
        format!(
            "BookDiff(venue={}, market={}, symbol='{}', is_synced={}, is_reset={}, update_id={}, bids={}, asks={})",
            v.source.venue,
            v.source.market,
            v.symbol,
            if v.synced { "True" } else { "False" },
            if v.reset { "True" } else { "False" },
            v.update_id
                .map_or_else(|| "None".to_owned(), |u| u.to_string()),
            v.bids.len(),
            v.asks.len()
        )
    }
}

field_getters!(BookDiff {
    update_id: value<Option<u64>>,
    exchange_time_ms: value<i64>,
    local_time_ns: value<i64>,
});

/// A symbol's trading rules. `filters` holds the venue's raw filter objects.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolInfo(pub m::SymbolInfo);
sourced_getters!(SymbolInfo);

#[pymethods]
impl SymbolInfo {
    /// `BASE/QUOTE` (spot) or `BASE/QUOTE:SETTLE` (linear): the name every connector and the
    /// aggregator also accept.
    #[getter]
    fn canonical(&self) -> String {
        self.0.canonical()
    }
}

#[pymethods]
impl SymbolInfo {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, base_asset, quote_asset, status, trading, tick_size, step_size,
        min_qty, price_precision, qty_precision, max_qty = None, min_notional = None, market_min_qty = None,
        market_max_qty = None, raw_filters = "[]".to_owned()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        venue: Venue,
        market: Market,
        symbol: &str,
        base_asset: String,
        quote_asset: String,
        status: String,
        trading: bool,
        tick_size: &Bound<'_, PyAny>,
        step_size: &Bound<'_, PyAny>,
        min_qty: &Bound<'_, PyAny>,
        price_precision: u32,
        qty_precision: u32,
        max_qty: Option<&Bound<'_, PyAny>>,
        min_notional: Option<&Bound<'_, PyAny>>,
        market_min_qty: Option<&Bound<'_, PyAny>>,
        market_max_qty: Option<&Bound<'_, PyAny>>,
        raw_filters: String,
    ) -> PyResult<Self> {
        if serde_json::from_str::<serde_json::Value>(&raw_filters).is_err() {
            return Err(crate::errors::to_pyerr(
                py,
                tradewire_core::Error::invalid_argument("raw_filters", "not valid JSON"),
            ));
        }
        Ok(SymbolInfo(m::SymbolInfo {
            source: source(venue, market),
            symbol: symbol.into(),
            base_asset,
            quote_asset,
            status,
            trading,
            tick_size: extract_decimal(tick_size, "tick_size")?,
            step_size: extract_decimal(step_size, "step_size")?,
            min_qty: extract_decimal(min_qty, "min_qty")?,
            max_qty: extract_opt_decimal(max_qty, "max_qty")?,
            min_notional: extract_opt_decimal(min_notional, "min_notional")?,
            market_min_qty: extract_opt_decimal(market_min_qty, "market_min_qty")?,
            market_max_qty: extract_opt_decimal(market_max_qty, "market_max_qty")?,
            price_precision,
            qty_precision,
            raw_filters,
        }))
    }
    #[getter]
    fn base_asset(&self) -> &str {
        &self.0.base_asset
    }
    #[getter]
    fn quote_asset(&self) -> &str {
        &self.0.quote_asset
    }
    #[getter]
    fn status(&self) -> &str {
        &self.0.status
    }
    /// The venue's filters as received, parsed from JSON (numbers stay strings, as sent).
    #[getter]
    fn filters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.0.raw_filters.as_str(),))
    }
    fn __repr__(&self) -> String {
        let s = &self.0;
        format!(
            "SymbolInfo(venue={}, market={}, symbol='{}', status='{}', tick_size={}, step_size={}, min_qty={}, min_notional={})",
            s.source.venue,
            s.source.market,
            s.symbol,
            s.status,
            rd(s.tick_size),
            rd(s.step_size),
            rd(s.min_qty),
            rod(s.min_notional)
        )
    }
}

field_getters!(SymbolInfo {
    tick_size: money,
    step_size: money,
    min_qty: money,
    max_qty: opt_money,
    min_notional: opt_money,
    market_min_qty: opt_money,
    market_max_qty: opt_money,
    trading: value<bool>,
    price_precision: value<u32>,
    qty_precision: value<u32>,
});

/// A take-profit or stop-loss attached to an entry order (Bybit linear): when the entry
/// fills, the venue places a reduce-only order closing what filled once the `trigger_by` price
/// reaches `trigger_price` — MARKET, or LIMIT at `price`.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exit(pub m::Exit);

#[pymethods]
impl Exit {
    #[new]
    #[pyo3(signature = (trigger_price, price = None, trigger_by = None))]
    fn new(
        trigger_price: &Bound<'_, PyAny>,
        price: Option<&Bound<'_, PyAny>>,
        trigger_by: Option<TriggerBy>,
    ) -> PyResult<Self> {
        Ok(Exit(m::Exit {
            trigger: extract_decimal(trigger_price, "trigger_price")?,
            price: extract_opt_decimal(price, "price")?,
            by: trigger_by.map_or(m::TriggerBy::Last, Into::into),
        }))
    }
    #[getter]
    fn trigger_price<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_decimal(py, self.0.trigger)
    }
    /// The LIMIT price it closes at once triggered; None: MARKET.
    #[getter]
    fn price<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
        to_py_opt_decimal(py, self.0.price)
    }
    #[getter]
    fn trigger_by(&self) -> TriggerBy {
        self.0.by.into()
    }
    fn __repr__(&self) -> String {
        format!(
            "Exit(trigger_price={}, price={}, trigger_by={})",
            rd(self.0.trigger),
            rod(self.0.price),
            self.0.by
        )
    }
}

/// An order as last known. `order_id` is empty until the venue acknowledged it.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Order(pub m::Order);
sourced_getters!(Order);

#[pymethods]
impl Order {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, client_order_id, side, order_type, status, order_id = "",
        time_in_force = None, price = None, qty = None, quote_qty = None, filled_qty = None, avg_price = None,
        reduce_only = false, position_side = None, trigger_price = None, trigger_direction = None, trigger_by = None,
        created_time_ms = 0, updated_time_ms = 0, reject_reason = None, take_profit = None, stop_loss = None,
        parent_client_order_id = None, callback_rate = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        client_order_id: &str,
        side: Side,
        order_type: OrderType,
        status: OrderStatus,
        order_id: &str,
        time_in_force: Option<TimeInForce>,
        price: Option<&Bound<'_, PyAny>>,
        qty: Option<&Bound<'_, PyAny>>,
        quote_qty: Option<&Bound<'_, PyAny>>,
        filled_qty: Option<&Bound<'_, PyAny>>,
        avg_price: Option<&Bound<'_, PyAny>>,
        reduce_only: bool,
        position_side: Option<PositionSide>,
        trigger_price: Option<&Bound<'_, PyAny>>,
        trigger_direction: Option<TriggerDirection>,
        trigger_by: Option<TriggerBy>,
        created_time_ms: i64,
        updated_time_ms: i64,
        reject_reason: Option<String>,
        take_profit: Option<PyRef<'_, Exit>>,
        stop_loss: Option<PyRef<'_, Exit>>,
        parent_client_order_id: Option<String>,
        callback_rate: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let trailing = extract_opt_decimal(callback_rate, "callback_rate")?;
        Ok(Order(m::Order {
            source: source(venue, market),
            symbol: symbol.into(),
            order_id: order_id.into(),
            client_order_id: client_order_id.into(),
            side: side.into(),
            order_type: order_type.into(),
            time_in_force: time_in_force.map(Into::into),
            price: extract_opt_decimal(price, "price")?,
            qty: extract_opt_decimal(qty, "qty")?,
            quote_qty: extract_opt_decimal(quote_qty, "quote_qty")?,
            filled_qty: extract_opt_decimal(filled_qty, "filled_qty")?.unwrap_or_default(),
            avg_price: extract_opt_decimal(avg_price, "avg_price")?,
            status: status.into(),
            reduce_only,
            position_side: position_side.map(Into::into),
            trigger: extract_opt_decimal(trigger_price, "trigger_price")?
                .or(trailing.map(|_| Decimal::ZERO))
                .map(|price| m::Trigger {
                    price,
                    direction: trigger_direction.map(Into::into),
                    by: trigger_by.map_or(m::TriggerBy::Last, Into::into),
                    trailing,
                }),
            created_time_ms,
            updated_time_ms,
            reject_reason,
            parent_client_order_id: parent_client_order_id.map(m::Id::from),
            stop_loss: stop_loss.map(|e| e.0),
            take_profit: take_profit.map(|e| e.0),
        }))
    }
    /// Why it ended without trading, where known (the venue's reason, or why the place was
    /// refused); None otherwise.
    #[getter]
    fn reject_reason(&self) -> Option<&str> {
        self.0.reject_reason.as_deref()
    }
    /// A conditional order's trigger price (a trailing stop's activation price); None for an
    /// order that went to the book at once, or a trailing stop active from placement.
    #[getter]
    fn trigger_price<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
        let price = self.0.trigger.map(|t| t.price).filter(|p| !p.is_zero());
        to_py_opt_decimal(py, price)
    }
    /// A trailing stop's callback rate, in percent of the best price since it became active.
    #[getter]
    fn callback_rate<'py>(&self, py: Python<'py>) -> OptMoney<'py> {
        to_py_opt_decimal(py, self.0.trigger.and_then(|t| t.trailing))
    }
    /// Which way the watched price must move to reach the trigger (None if not known).
    #[getter]
    fn trigger_direction(&self) -> Option<TriggerDirection> {
        self.0.trigger.and_then(|t| t.direction).map(Into::into)
    }
    /// The price the trigger watches.
    #[getter]
    fn trigger_by(&self) -> Option<TriggerBy> {
        self.0.trigger.map(|t| t.by.into())
    }
    /// The take-profit attached to this entry (Bybit linear), as the venue reports it.
    #[getter]
    fn take_profit(&self) -> Option<Exit> {
        self.0.take_profit.map(Exit)
    }
    /// The stop-loss attached to this entry (Bybit linear), as the venue reports it.
    #[getter]
    fn stop_loss(&self) -> Option<Exit> {
        self.0.stop_loss.map(Exit)
    }
    /// For a take-profit or stop-loss the venue placed for an entry: the entry's client order
    /// id (this order has none of its own: its `client_order_id` is its `order_id`).
    #[getter]
    fn parent_client_order_id(&self) -> Option<&str> {
        self.0.parent_client_order_id.as_ref().map(|i| i.as_str())
    }
    /// STOP or TAKE_PROFIT, from the trigger's direction and the order's side.
    #[getter]
    fn trigger_kind(&self) -> Option<TriggerKind> {
        let direction = self.0.trigger?.direction?;
        Some(m::TriggerKind::of(direction, self.0.side).into())
    }
    fn __repr__(&self) -> String {
        let o = &self.0;
        format!(
            "Order(venue={}, market={}, symbol='{}', order_id='{}', client_order_id='{}', side={}, order_type={}, price={}, qty={}, filled_qty={}, status={})",
            o.source.venue,
            o.source.market,
            o.symbol,
            o.order_id,
            o.client_order_id,
            o.side,
            o.order_type,
            rod(o.price),
            rod(o.qty),
            rd(o.filled_qty),
            o.status
        )
    }
}

field_getters!(Order {
    filled_qty: money,
    price: opt_money,
    qty: opt_money,
    quote_qty: opt_money,
    avg_price: opt_money,
    order_id: text,
    client_order_id: text,
    reduce_only: value<bool>,
    created_time_ms: value<i64>,
    updated_time_ms: value<i64>,
    side: into<Side>,
    order_type: into<OrderType>,
    status: into<OrderStatus>,
    time_in_force: opt_into<TimeInForce>,
    position_side: opt_into<PositionSide>,
});

/// One execution of an order, with its fee.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fill(pub m::Fill);
sourced_getters!(Fill);

#[pymethods]
impl Fill {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, order_id, client_order_id, trade_id, side, price, qty, fee, fee_asset,
        is_maker, exchange_time_ms))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        order_id: &str,
        client_order_id: &str,
        trade_id: &str,
        side: Side,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        fee: &Bound<'_, PyAny>,
        fee_asset: String,
        is_maker: bool,
        exchange_time_ms: i64,
    ) -> PyResult<Self> {
        Ok(Fill(m::Fill {
            source: source(venue, market),
            symbol: symbol.into(),
            order_id: order_id.into(),
            client_order_id: client_order_id.into(),
            trade_id: trade_id.into(),
            side: side.into(),
            price: extract_decimal(price, "price")?,
            qty: extract_decimal(qty, "qty")?,
            fee: extract_decimal(fee, "fee")?,
            fee_asset,
            is_maker,
            exchange_time_ms,
        }))
    }
    #[getter]
    fn fee_asset(&self) -> &str {
        &self.0.fee_asset
    }
    fn __repr__(&self) -> String {
        let f = &self.0;
        format!(
            "Fill(venue={}, symbol='{}', order_id='{}', trade_id='{}', side={}, price={}, qty={}, fee={} {})",
            f.source.venue,
            f.symbol,
            f.order_id,
            f.trade_id,
            f.side,
            rd(f.price),
            rd(f.qty),
            rd(f.fee),
            f.fee_asset
        )
    }
}

field_getters!(Fill {
    price: money,
    qty: money,
    fee: money,
    order_id: text,
    client_order_id: text,
    trade_id: text,
    is_maker: value<bool>,
    exchange_time_ms: value<i64>,
    side: into<Side>,
});

/// A change of one order: its state after the change and the execution that caused it, if any.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderUpdate(pub m::OrderUpdate);

#[pymethods]
impl OrderUpdate {
    #[new]
    #[pyo3(signature = (order, fill = None))]
    fn new(order: PyRef<'_, Order>, fill: Option<PyRef<'_, Fill>>) -> Self {
        OrderUpdate(m::OrderUpdate {
            order: order.0.clone(),
            fill: fill.map(|f| f.0.clone()),
        })
    }
    #[getter]
    fn order(&self) -> Order {
        Order(self.0.order.clone())
    }
    #[getter]
    fn fill(&self) -> Option<Fill> {
        self.0.fill.clone().map(Fill)
    }
    fn __repr__(&self) -> String {
        let o = &self.0.order;
        let fill = self.0.fill.as_ref().map_or_else(String::new, |f| {
            format!(
                ", fill={} @ {} (trade {})",
                rd(f.qty),
                rd(f.price),
                f.trade_id
            )
        });
        format!(
            "OrderUpdate({} {} {} {}, filled={}{fill})",
            o.symbol,
            o.client_order_id,
            o.status,
            o.order_id,
            rd(o.filled_qty)
        )
    }
}

/// Funds of one asset; `total` is `free + locked`.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Balance(pub m::Balance);

#[pymethods]
impl Balance {
    #[new]
    #[pyo3(signature = (*, venue, market, asset, free, locked, exchange_time_ms = 0))]
    fn new(
        venue: Venue,
        market: Market,
        asset: String,
        free: &Bound<'_, PyAny>,
        locked: &Bound<'_, PyAny>,
        exchange_time_ms: i64,
    ) -> PyResult<Self> {
        Ok(Balance(m::Balance {
            venue: venue.into(),
            market: market.into(),
            asset,
            free: extract_decimal(free, "free")?,
            locked: extract_decimal(locked, "locked")?,
            exchange_time_ms,
        }))
    }
    #[getter]
    fn asset(&self) -> &str {
        &self.0.asset
    }
    #[getter]
    fn total<'py>(&self, py: Python<'py>) -> Money<'py> {
        to_py_decimal(py, self.0.total())
    }
    fn __repr__(&self) -> String {
        let b = &self.0;
        format!(
            "Balance(venue={}, asset='{}', free={}, locked={})",
            b.venue,
            b.asset,
            rd(b.free),
            rd(b.locked)
        )
    }
}

field_getters!(Balance {
    free: money,
    locked: money,
    exchange_time_ms: value<i64>,
    venue: into<Venue>,
    market: into<Market>,
});

/// A position: `size` is absolute, `side` gives the direction; `position_side` names the
/// hedge-mode leg (None in one-way mode).
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position(pub m::Position);
sourced_getters!(Position);

#[pymethods]
impl Position {
    #[new]
    #[pyo3(signature = (*, venue, market, symbol, side, size, entry_price, unrealized_pnl, leverage,
        position_side = None, liquidation_price = None, mark_price = None, realized_pnl = None, initial_margin = None,
        maintenance_margin = None, exchange_time_ms = 0, take_profit = None, stop_loss = None, trailing_stop = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        venue: Venue,
        market: Market,
        symbol: &str,
        side: PositionSide,
        size: &Bound<'_, PyAny>,
        entry_price: &Bound<'_, PyAny>,
        unrealized_pnl: &Bound<'_, PyAny>,
        leverage: &Bound<'_, PyAny>,
        position_side: Option<PositionSide>,
        liquidation_price: Option<&Bound<'_, PyAny>>,
        mark_price: Option<&Bound<'_, PyAny>>,
        realized_pnl: Option<&Bound<'_, PyAny>>,
        initial_margin: Option<&Bound<'_, PyAny>>,
        maintenance_margin: Option<&Bound<'_, PyAny>>,
        exchange_time_ms: i64,
        take_profit: Option<&Bound<'_, PyAny>>,
        stop_loss: Option<&Bound<'_, PyAny>>,
        trailing_stop: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        Ok(Position(m::Position {
            source: source(venue, market),
            symbol: symbol.into(),
            side: side.into(),
            position_side: position_side.map(Into::into),
            size: extract_decimal(size, "size")?,
            entry_price: extract_decimal(entry_price, "entry_price")?,
            unrealized_pnl: extract_decimal(unrealized_pnl, "unrealized_pnl")?,
            leverage: extract_decimal(leverage, "leverage")?,
            liquidation_price: extract_opt_decimal(liquidation_price, "liquidation_price")?,
            mark_price: extract_opt_decimal(mark_price, "mark_price")?,
            realized_pnl: extract_opt_decimal(realized_pnl, "realized_pnl")?,
            initial_margin: extract_opt_decimal(initial_margin, "initial_margin")?,
            maintenance_margin: extract_opt_decimal(maintenance_margin, "maintenance_margin")?,
            exchange_time_ms,
            stop_loss: extract_opt_decimal(stop_loss, "stop_loss")?,
            take_profit: extract_opt_decimal(take_profit, "take_profit")?,
            trailing_stop: extract_opt_decimal(trailing_stop, "trailing_stop")?,
        }))
    }
    /// What names it among the account's positions (the keys of `positions()`): the symbol,
    /// or for a hedge-mode leg the symbol and the leg, as `BTCUSDT-LONG`.
    #[getter]
    fn key(&self) -> String {
        self.0.key_text()
    }
    fn __repr__(&self) -> String {
        let p = &self.0;
        format!(
            "Position(venue={}, market={}, symbol='{}', position_side={}, side={}, size={}, entry_price={}, unrealized_pnl={}, leverage={})",
            p.source.venue,
            p.source.market,
            p.symbol,
            p.position_side.map_or("None", |l| l.as_str()),
            p.side,
            rd(p.size),
            rd(p.entry_price),
            rd(p.unrealized_pnl),
            rd(p.leverage)
        )
    }
}

field_getters!(Position {
    size: money,
    entry_price: money,
    unrealized_pnl: money,
    leverage: money,
    liquidation_price: opt_money,
    mark_price: opt_money,
    realized_pnl: opt_money,
    initial_margin: opt_money,
    maintenance_margin: opt_money,
    take_profit: opt_money,
    stop_loss: opt_money,
    trailing_stop: opt_money,
    exchange_time_ms: value<i64>,
    side: into<PositionSide>,
    position_side: opt_into<PositionSide>,
});

/// Delivered in a stream where `missed` events were dropped because the consumer was slow.
#[pyclass(module = "tradewire._native", frozen, eq, hash)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gap {
    #[pyo3(get)]
    missed: u64,
}

#[pymethods]
impl Gap {
    #[new]
    pub fn new(missed: u64) -> Self {
        Gap { missed }
    }
    fn __repr__(&self) -> String {
        format!("Gap(missed={})", self.missed)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The core's rule, read by `OrderStatus.is_terminal` (one home for it).
    let terminal: Vec<&str> = m::OrderStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    m.add("TERMINAL_ORDER_STATUSES", terminal)?;
    m.add_class::<Trade>()?;
    m.add_class::<Ticker>()?;
    m.add_class::<Kline>()?;
    m.add_class::<AggTrade>()?;
    m.add_class::<MarkPrice>()?;
    m.add_class::<FundingRate>()?;
    m.add_class::<OpenInterest>()?;
    m.add_class::<Liquidation>()?;
    m.add_class::<TopOfBook>()?;
    m.add_class::<Level>()?;
    m.add_class::<BookView>()?;
    m.add_class::<BookDiff>()?;
    m.add_class::<SymbolInfo>()?;
    m.add_class::<Exit>()?;
    m.add_class::<Order>()?;
    m.add_class::<Fill>()?;
    m.add_class::<OrderUpdate>()?;
    m.add_class::<Balance>()?;
    m.add_class::<Position>()?;
    m.add_class::<Gap>()?;
    Ok(())
}
