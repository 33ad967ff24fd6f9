//! The Tokio → asyncio bridge for streams (DESIGN.md "Crossing into Python").
//!
//! A [`NativeStream`] wraps the consumer half of a core `stream` queue. Python drains it in
//! batches; when it is empty, Python parks an asyncio future on it. The producer (a Tokio
//! task) wakes that future without touching the GIL: it pushes the future onto its event
//! loop's [`LoopWaker`] and writes one byte to a socket the loop watches with `add_reader`,
//! only when that waker's ready list was empty. So a burst costs one wake-up, not one per event.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyModule};
use tradewire_core::model as m;
use tradewire_core::stream::{Drained, Item, Overflow, Receiver, Waker};

use crate::errors::to_pyerr;
use crate::model;

/// A core event that has a Python class.
pub trait PyEvent: Send + 'static {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>>;
}

macro_rules! py_event {
    ($($core:ident => $py:ident),+ $(,)?) => {$(
        impl PyEvent for m::$core {
            fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
                Ok(Bound::new(py, model::$py(self))?.into_any())
            }
        }
    )+};
}

py_event!(Trade => Trade, AggTrade => AggTrade, MarkPrice => MarkPrice, Liquidation => Liquidation, TopOfBook => TopOfBook, Ticker => Ticker, Kline => Kline, BookView => BookView, BookDiff => BookDiff, Order => Order, Fill => Fill, Balance => Balance, Position => Position, OrderUpdate => OrderUpdate);

/// A book stream's "the book changed": the view is built here, when Python takes it.
impl PyEvent for tradewire_core::book::live::ViewTicket {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, model::BookView(self.view()))?.into_any())
    }
}

/// Raw venue messages (`connector.raw_stream`) cross as `str`.
impl PyEvent for String {
    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(pyo3::types::PyString::new(py, &self).into_any())
    }
}

/// Type-erased consumer half, so one Python class serves every event type.
trait Source: Send + Sync {
    fn drain<'py>(
        &self,
        py: Python<'py>,
        max: usize,
    ) -> PyResult<(Vec<Bound<'py, PyAny>>, Drained)>;
    fn park(&self, wake: Waker) -> bool;
    fn close(&self);
    fn overflow(&self) -> Overflow;
    fn counters(&self) -> (u64, u64, u64);
}

/// A receiver plus a reusable buffer, so a drain allocates nothing on the Rust side.
struct Typed<T> {
    receiver: Receiver<T>,
    scratch: Mutex<Vec<Item<T>>>,
}

impl<T: PyEvent> Source for Typed<T> {
    fn drain<'py>(
        &self,
        py: Python<'py>,
        max: usize,
    ) -> PyResult<(Vec<Bound<'py, PyAny>>, Drained)> {
        let mut items = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let status = self.receiver.drain_into(max, &mut items);
        let mut out = Vec::with_capacity(items.len());
        for item in items.drain(..) {
            out.push(match item {
                Item::Event(event) => event.into_py(py)?,
                Item::Gap { missed } => Bound::new(py, model::Gap::new(missed))?.into_any(),
            });
        }
        Ok((out, status))
    }

    fn park(&self, wake: Waker) -> bool {
        self.receiver.park(wake)
    }

    fn close(&self) {
        self.receiver.close();
    }

    fn overflow(&self) -> Overflow {
        self.receiver.overflow()
    }

    fn counters(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.receiver.stats();
        (
            s.delivered.load(Relaxed),
            s.dropped.load(Relaxed),
            s.conflated.load(Relaxed),
        )
    }
}

/// The consumer end of one Rust stream. Dropping it (or `close()`) releases the producer.
#[pyclass(module = "tradewire._native", frozen)]
pub struct NativeStream {
    source: Box<dyn Source>,
    /// The most events one drain hands over.
    most: usize,
}

impl NativeStream {
    pub fn new<T: PyEvent>(receiver: Receiver<T>) -> Self {
        NativeStream {
            source: Box::new(Typed {
                receiver,
                scratch: Mutex::new(Vec::new()),
            }),
            most: usize::MAX,
        }
    }

    /// Hands events over one at a time, so coming back for the next says the last one was
    /// dealt with (a durable reader acknowledges it then).
    pub fn one_at_a_time<T: PyEvent>(receiver: Receiver<T>) -> Self {
        NativeStream {
            most: 1,
            ..NativeStream::new(receiver)
        }
    }
}

#[pymethods]
impl NativeStream {
    /// Takes up to `max` events in arrival order. An empty list means "nothing yet"; `None`
    /// means the stream ended cleanly; a failure that ended it is raised once everything
    /// before it was delivered.
    fn drain<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Option<Bound<'py, PyList>>> {
        crate::logging::maybe_refresh(py);
        let (items, status) = self.source.drain(py, max.clamp(1, self.most))?;
        if items.is_empty()
            && let Drained::Ended(end) = status
        {
            return match end {
                None => Ok(None),
                Some(error) => Err(to_pyerr(py, error)),
            };
        }
        PyList::new(py, items).map(Some)
    }

    /// Arranges for `future` to get a result (through `waker`) when events arrive. Returns
    /// `False` without parking when there is something to drain already.
    fn park(&self, waker: &Bound<'_, LoopWaker>, future: Py<PyAny>) -> bool {
        let shared = waker.get().shared.clone();
        self.source.park(Box::new(move || shared.wake(future)))
    }

    /// Stops the stream: the producer sees the consumer is gone; buffered events are dropped.
    fn close(&self) {
        self.source.close();
    }

    /// `"conflate"`, `"gap_marker"` or `"never_drop"`.
    #[getter]
    fn overflow(&self) -> &'static str {
        overflow_name(self.source.overflow())
    }

    /// `(delivered, dropped, conflated)` counts so far.
    fn counters(&self) -> (u64, u64, u64) {
        self.source.counters()
    }
}

pub fn overflow_name(overflow: Overflow) -> &'static str {
    match overflow {
        Overflow::Conflate => "conflate",
        Overflow::GapMarker => "gap_marker",
        Overflow::NeverDrop => "never_drop",
    }
}

struct WakerShared {
    reader: UnixStream,
    writer: UnixStream,
    ready: Mutex<Vec<Py<PyAny>>>,
}

impl WakerShared {
    /// Runs on a Tokio thread, without the GIL.
    fn wake(&self, future: Py<PyAny>) {
        let was_empty = {
            let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
            ready.push(future);
            ready.len() == 1
        };
        if was_empty {
            // Non-blocking: if the socket is full a byte is already pending, which is enough.
            let _ = (&self.writer).write(&[1]);
        }
    }
}

/// One per asyncio event loop: the loop watches `fileno()` with `add_reader` and, when it is
/// readable, resolves every future `take()` returns.
#[pyclass(module = "tradewire._native", frozen)]
pub struct LoopWaker {
    shared: Arc<WakerShared>,
}

#[pymethods]
impl LoopWaker {
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let io = |e: std::io::Error| {
            crate::errors::raise(py, "TradewireError", format!("cannot create waker: {e}"))
        };
        let (reader, writer) = UnixStream::pair().map_err(io)?;
        reader.set_nonblocking(true).map_err(io)?;
        writer.set_nonblocking(true).map_err(io)?;
        Ok(LoopWaker {
            shared: Arc::new(WakerShared {
                reader,
                writer,
                ready: Mutex::new(Vec::new()),
            }),
        })
    }

    fn fileno(&self) -> i32 {
        self.shared.reader.as_raw_fd()
    }

    /// Consumes the pending wake-up bytes, then returns the futures to resolve.
    fn take(&self) -> Vec<Py<PyAny>> {
        let mut sink = [0u8; 256];
        loop {
            match (&self.shared.reader).read(&mut sink) {
                Ok(n) if n == sink.len() => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                _ => break,
            }
        }
        std::mem::take(&mut *self.shared.ready.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeStream>()?;
    m.add_class::<LoopWaker>()?;
    Ok(())
}
