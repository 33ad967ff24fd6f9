//! `tradewire.OrderBook`'s native half: a handle on a book the core keeps in sync. Every read
//! takes the book's lock once, so what one call returns belongs to one update.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyModule;
use tradewire_core::book::live::{BookHandle, LiveBook};
use tradewire_core::model as m;

use crate::convert::to_py_opt_decimal;
use crate::model::{BookView, Level, Market, Venue, mid_and_spread};

#[pyclass(module = "tradewire._native", name = "OrderBook", frozen)]
pub struct NativeBook {
    book: Arc<LiveBook>,
    /// Levels a side this handle shows (the book may keep more).
    depth: usize,
    /// Released by `close()`; reads then see an unsynced, empty book.
    handle: Mutex<Option<BookHandle>>,
}

impl NativeBook {
    pub fn new(handle: BookHandle, depth: usize) -> Self {
        NativeBook {
            book: handle.book.clone(),
            depth: depth.min(handle.book.depth),
            handle: Mutex::new(Some(handle)),
        }
    }

    fn open(&self) -> bool {
        self.handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Reads the book if this handle is open and the book in sync.
    fn read<R>(&self, f: impl FnOnce(&tradewire_core::book::Book) -> R) -> Option<R> {
        if self.open() { self.book.read(f) } else { None }
    }

    fn side(&self, n: Option<usize>, bids: bool) -> Vec<Level> {
        let n = n.unwrap_or(self.depth).min(self.depth);
        let levels = self.read(|b| if bids { b.bids(n) } else { b.asks(n) });
        levels.unwrap_or_default().into_iter().map(Level).collect()
    }

    /// The best level of each side (empty where a side has none), at one update.
    fn tops(&self) -> Option<(Vec<m::Level>, Vec<m::Level>)> {
        self.read(|b| (b.bids(1), b.asks(1)))
    }
}

#[pymethods]
impl NativeBook {
    #[getter]
    fn venue(&self) -> Venue {
        self.book.source.venue.into()
    }
    #[getter]
    fn market(&self) -> Market {
        self.book.source.market.into()
    }
    #[getter]
    fn symbol(&self) -> &'static str {
        self.book.symbol.as_str()
    }
    /// Levels a side the handle shows.
    #[getter]
    fn depth(&self) -> usize {
        self.depth
    }
    #[getter]
    fn is_synced(&self) -> bool {
        self.open() && self.book.is_synced()
    }
    #[getter]
    fn is_stale(&self) -> bool {
        self.open() && self.book.is_stale()
    }
    /// The venue's id of the last update applied; `None` while unsynced.
    #[getter]
    fn update_id(&self) -> Option<u64> {
        // The book has no update id while unsynced.
        if self.open() {
            self.book.update_id()
        } else {
            None
        }
    }
    #[getter]
    fn exchange_time_ms(&self) -> i64 {
        self.book.exchange_time_ms()
    }
    fn best_bid(&self) -> Option<Level> {
        self.open()
            .then(|| self.book.best_bid())
            .flatten()
            .map(Level)
    }
    fn best_ask(&self) -> Option<Level> {
        self.open()
            .then(|| self.book.best_ask())
            .flatten()
            .map(Level)
    }
    /// The best `n` bids (at most the handle's `depth`; that many if `n` is None), best first.
    #[pyo3(signature = (n = None))]
    fn bids(&self, n: Option<usize>) -> Vec<Level> {
        self.side(n, true)
    }
    #[pyo3(signature = (n = None))]
    fn asks(&self, n: Option<usize>) -> Vec<Level> {
        self.side(n, false)
    }
    #[getter]
    fn mid<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let tops = self.tops();
        let mid = tops
            .and_then(|(b, a)| mid_and_spread(&b, &a))
            .map(|(m, _)| m);
        to_py_opt_decimal(py, mid)
    }
    #[getter]
    fn spread<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let tops = self.tops();
        let spread = tops
            .and_then(|(b, a)| mid_and_spread(&b, &a))
            .map(|(_, s)| s);
        to_py_opt_decimal(py, spread)
    }
    /// Both sides' best `n` levels (at most `depth`, that many if None) at one update, as a `BookView`.
    #[pyo3(signature = (n = None))]
    fn snapshot(&self, n: Option<usize>) -> BookView {
        let n = n.unwrap_or(self.depth).min(self.depth);
        let mut view = self.book.view(n);
        if !self.open() {
            view.synced = false;
            view.update_id = None;
            view.bids.clear();
            view.asks.clear();
        }
        BookView(view)
    }
    /// `(applied, ignored, resyncs, last_reason)` so far.
    fn stats(&self) -> (u64, u64, u64, Option<String>) {
        let s = self.book.stats();
        (s.applied, s.ignored, s.resyncs, s.last_reason)
    }
    /// Releases the handle; the subscription ends when no handle or stream reads the book.
    fn close(&self) {
        self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
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
        self.close();
    }
    fn __repr__(&self) -> String {
        let view = self.snapshot(Some(1));
        let price = |l: Option<&m::Level>| {
            l.map_or_else(|| "None".to_owned(), |l| format!("Decimal('{}')", l.price))
        };
        format!(
            "OrderBook(venue={}, market={}, symbol='{}', depth={}, is_synced={}, best_bid={}, best_ask={})",
            self.book.source.venue,
            self.book.source.market,
            self.book.symbol,
            self.depth,
            if view.0.synced { "True" } else { "False" },
            price(view.0.bids.first()),
            price(view.0.asks.first()),
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBook>()?;
    Ok(())
}
