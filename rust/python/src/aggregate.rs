//! `tradewire.Aggregator`'s native half: merged books across connectors (core `aggregate`).
//! Venues are named by label (`binance-spot`, `bybit-linear`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyTuple};
use tradewire_core::aggregate::{self as agg, AggregateEvent, Aggregator, AggregatorConfig, label};

use crate::connector::NativeConnector;
use crate::convert::to_py_decimal;
use crate::errors::{IntoPyResult, to_pyerr};
use crate::stream::{NativeStream, PyEvent};

/// `{label: qty}`, largest first.
fn venues<'py>(py: Python<'py>, venues: &[agg::VenueQty]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for v in venues {
        dict.set_item(label(v.source), to_py_decimal(py, v.qty)?)?;
    }
    Ok(dict)
}

/// `price`, `qty` (the total across the included venues) and `venues` (`{label: qty}`,
/// largest first) of a merged level or a quote.
macro_rules! level_getters {
    ($ty:ident) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn price<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                to_py_decimal(py, self.0.price)
            }
            #[getter]
            fn qty<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                to_py_decimal(py, self.0.qty)
            }
            #[getter]
            fn venues<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                venues(py, &self.0.venues)
            }
        }
    };
}

/// One price of a merged book: the total and each venue's part.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedLevel(agg::MergedLevel);
level_getters!(MergedLevel);

#[pymethods]
impl MergedLevel {
    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .0
            .venues
            .iter()
            .map(|v| format!("'{}': Decimal('{}')", label(v.source), v.qty))
            .collect();
        format!(
            "MergedLevel(price=Decimal('{}'), qty=Decimal('{}'), venues={{{}}})",
            self.0.price,
            self.0.qty,
            parts.join(", ")
        )
    }
}

/// The best price of one side across venues; `venue` holds the largest part of `qty`.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote(agg::Quote);
level_getters!(Quote);

#[pymethods]
impl Quote {
    #[getter]
    fn venue(&self) -> String {
        label(self.0.venue)
    }
    fn __repr__(&self) -> String {
        format!(
            "Quote(price=Decimal('{}'), qty=Decimal('{}'), venue='{}')",
            self.0.price,
            self.0.qty,
            label(self.0.venue)
        )
    }
}

fn excluded<'py>(
    py: Python<'py>,
    excluded: &[(tradewire_core::model::Source, String)],
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (source, reason) in excluded {
        dict.set_item(label(*source), reason)?;
    }
    Ok(dict)
}

/// The best bid and ask across the included venues at one moment.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bbo(agg::Bbo);

#[pymethods]
impl Bbo {
    #[getter]
    fn symbol(&self) -> &str {
        &self.0.symbol
    }
    #[getter]
    fn bid(&self) -> Option<Quote> {
        self.0.bid.clone().map(Quote)
    }
    #[getter]
    fn ask(&self) -> Option<Quote> {
        self.0.ask.clone().map(Quote)
    }
    /// One venue's bid at or above another's ask.
    #[getter]
    fn crossed(&self) -> bool {
        self.0.crossed
    }
    /// `{venue label: reason}` of the venues left out.
    #[getter]
    fn excluded<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        excluded(py, &self.0.excluded)
    }
    #[getter]
    fn local_time_ns(&self) -> i64 {
        self.0.local_time_ns
    }
    fn __repr__(&self) -> String {
        let side = |q: &Option<agg::Quote>| {
            q.as_ref().map_or_else(
                || "None".to_owned(),
                |q| format!("{} x {} @ {}", q.price, q.qty, label(q.venue)),
            )
        };
        format!(
            "Bbo(symbol='{}', bid={}, ask={}, crossed={}, excluded={})",
            self.0.symbol,
            side(&self.0.bid),
            side(&self.0.ask),
            if self.0.crossed { "True" } else { "False" },
            self.0.excluded.len()
        )
    }
}

/// A merged book at one moment: best levels a side, and which venues count.
#[pyclass(module = "tradewire._native", frozen, eq)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedView(agg::MergedView);

#[pymethods]
impl MergedView {
    #[getter]
    fn symbol(&self) -> &str {
        &self.0.symbol
    }
    /// Best first.
    #[getter]
    fn bids(&self) -> Vec<MergedLevel> {
        self.0.bids.iter().cloned().map(MergedLevel).collect()
    }
    /// Best first.
    #[getter]
    fn asks(&self) -> Vec<MergedLevel> {
        self.0.asks.iter().cloned().map(MergedLevel).collect()
    }
    #[getter]
    fn crossed(&self) -> bool {
        self.0.crossed
    }
    /// Labels of the venues whose books are in the view.
    #[getter]
    fn included(&self) -> Vec<String> {
        self.0
            .venues
            .iter()
            .filter(|v| v.included)
            .map(|v| label(v.source))
            .collect()
    }
    /// `{venue label: reason}` of the venues left out (out of sync, stale, closed).
    #[getter]
    fn excluded<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for v in &self.0.venues {
            if let Some(reason) = &v.reason {
                dict.set_item(label(v.source), reason)?;
            }
        }
        Ok(dict)
    }
    /// `{venue label: the venue's symbol}` of every venue of the merged book.
    #[getter]
    fn symbols(&self) -> HashMap<String, String> {
        self.0
            .venues
            .iter()
            .map(|v| (label(v.source), v.symbol.clone()))
            .collect()
    }
    fn __repr__(&self) -> String {
        let price = |l: Option<&agg::MergedLevel>| {
            l.map_or_else(|| "None".to_owned(), |l| format!("Decimal('{}')", l.price))
        };
        format!(
            "MergedView(symbol='{}', best_bid={}, best_ask={}, included={:?}, crossed={})",
            self.0.symbol,
            price(self.0.bids.first()),
            price(self.0.asks.first()),
            self.included(),
            if self.0.crossed { "True" } else { "False" },
        )
    }
}

/// A live merged book: every read takes its lock once, so one call sees one moment.
#[pyclass(module = "tradewire._native", name = "MergedBook", frozen)]
pub struct NativeMergedBook(Arc<agg::MergedBook>);

#[pymethods]
impl NativeMergedBook {
    /// The canonical name (`BTC/USDT`, `BTC/USDT:USDT`).
    #[getter]
    fn symbol(&self) -> &str {
        &self.0.symbol
    }
    /// The finest tick every venue's tick is a multiple of (a unit for showing prices and
    /// spreads; levels off it are kept as they are).
    #[getter]
    fn tick<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_decimal(py, self.0.tick)
    }
    /// Both sides' best `n` merged levels (all if None) and the venues' states.
    #[pyo3(signature = (n = None))]
    fn snapshot(&self, n: Option<usize>) -> MergedView {
        MergedView(self.0.view(n.unwrap_or(usize::MAX)))
    }
    #[pyo3(signature = (n = 10))]
    fn bids(&self, n: usize) -> Vec<MergedLevel> {
        self.0.view(n).bids.into_iter().map(MergedLevel).collect()
    }
    #[pyo3(signature = (n = 10))]
    fn asks(&self, n: usize) -> Vec<MergedLevel> {
        self.0.view(n).asks.into_iter().map(MergedLevel).collect()
    }
    fn bbo(&self) -> Bbo {
        Bbo(self.0.bbo())
    }
    fn best_bid(&self) -> Option<Quote> {
        self.0.bbo().bid.map(Quote)
    }
    fn best_ask(&self) -> Option<Quote> {
        self.0.bbo().ask.map(Quote)
    }
    /// Stops following the venue books; every venue then reads as excluded ("closed").
    fn close(&self) {
        self.0.close();
    }
    #[getter]
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    fn __exit__(
        &self,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) {
        self.0.close();
    }
    fn __repr__(&self) -> String {
        MergedView(self.0.view(1))
            .__repr__()
            .replacen("MergedView", "MergedBook", 1)
    }
}

impl PyEvent for agg::Bbo {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, Bbo(self))?.into_any())
    }
}

/// Events cross as `(kind, symbol, fields)`; `tradewire.AggregatorEvent` wraps them.
impl PyEvent for AggregateEvent {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        let fields = PyDict::new(py);
        let (kind, symbol) = match self {
            AggregateEvent::Crossed { symbol, bid, ask } => {
                fields.set_item("bid_venue", label(bid.venue))?;
                fields.set_item("bid", bid.price.to_string())?;
                fields.set_item("ask_venue", label(ask.venue))?;
                fields.set_item("ask", ask.price.to_string())?;
                ("crossed", symbol)
            }
            AggregateEvent::Uncrossed { symbol } => ("uncrossed", symbol),
            AggregateEvent::Excluded {
                symbol,
                source,
                reason,
            } => {
                fields.set_item("venue", label(source))?;
                fields.set_item("reason", reason)?;
                ("excluded", symbol)
            }
            AggregateEvent::Included { symbol, source } => {
                fields.set_item("venue", label(source))?;
                ("included", symbol)
            }
        };
        Ok(PyTuple::new(
            py,
            [
                kind.into_pyobject(py)?.into_any(),
                symbol.into_pyobject(py)?.into_any(),
                fields.into_any(),
            ],
        )?
        .into_any())
    }
}

#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeAggregator(Arc<Aggregator>);

#[pymethods]
impl NativeAggregator {
    #[new]
    #[pyo3(signature = (connectors, *, mapping = None, depth = 200, stale_after_ms, timeout_ms = 30_000))]
    fn new(
        py: Python<'_>,
        connectors: Vec<Py<NativeConnector>>,
        mapping: Option<HashMap<String, HashMap<String, String>>>,
        depth: usize,
        stale_after_ms: Option<u64>,
        timeout_ms: u64,
    ) -> PyResult<Self> {
        let connectors = connectors.iter().map(|c| c.get().core()).collect();
        let mapping = mapping
            .unwrap_or_default()
            .into_iter()
            .map(|(name, parts)| (name, parts.into_iter().collect()))
            .collect();
        let config = AggregatorConfig {
            depth,
            stale_after: stale_after_ms.map(Duration::from_millis),
            wait: Duration::from_millis(timeout_ms.max(1)),
        };
        Aggregator::new(connectors, mapping, config)
            .map(|a| NativeAggregator(Arc::new(a)))
            .py_err(py)
    }

    /// The merged book of `symbol`, opened on first use. Awaitable.
    fn book<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.0.clone();
        crate::runtime::future_into_py(py, async move {
            let book = inner
                .book(&symbol)
                .await
                .map_err(|e| Python::attach(|py| to_pyerr(py, e)))?;
            Ok(NativeMergedBook(book))
        })
    }

    fn bbo(&self, py: Python<'_>, symbol: &str) -> PyResult<Bbo> {
        Ok(Bbo(self.0.opened(symbol).py_err(py)?.bbo()))
    }

    fn bbo_updates(&self, py: Python<'_>, symbol: &str) -> PyResult<NativeStream> {
        let book = self.0.opened(symbol).py_err(py)?;
        Ok(NativeStream::new(book.bbo_updates()))
    }

    /// Closes every merged book (see `MergedBook.close`).
    fn close(&self) {
        self.0.close();
    }

    #[pyo3(signature = (capacity = 4096))]
    fn events(&self, capacity: usize) -> NativeStream {
        NativeStream::new(self.0.events(capacity))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeAggregator>()?;
    m.add_class::<NativeMergedBook>()?;
    m.add_class::<MergedLevel>()?;
    m.add_class::<MergedView>()?;
    m.add_class::<Quote>()?;
    m.add_class::<Bbo>()?;
    Ok(())
}
