//! A remote's live books: the gateway's diffs, as `book_diffs` delivers them (the whole book
//! first, numbering checked, a fresh whole book after any loss), kept in a core [`LiveBook`],
//! so a remote offers the connector's `book()` handle and `book_updates()` views with the
//! same types and the same book code.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tradewire_core::book::live::{BookHandle, LiveBook, ViewTicket};
use tradewire_core::book::sync::{BookDelta, Outcome, Recovery, SyncRule, SyncState};
use tradewire_core::model::{BookDiff, Symbol};
use tradewire_core::stream::{self, Drained, Item, Receiver};
use tradewire_core::supervise::ChildContext;
use tradewire_core::{Error, Result};

use crate::remote::Remote;
use crate::subjects::token;

/// Diffs a remote book's feed holds for it (never dropped; as `book_diffs`' default).
const DIFFS: usize = 1 << 16;
/// How often a book nobody holds any more is looked for, when no diff comes.
const IN_USE_EVERY: Duration = Duration::from_secs(1);

/// The gateway's diffs: a reset replaces the book, every other diff applies (the remote has
/// checked their numbering on the way). The book is kept as deep as the gateway sends it, not
/// cut to the depth asked: a level removed inside that depth is then followed by the next one,
/// which a cut book would have lost (leaving it a level short, silently).
struct Relay;

impl SyncRule for Relay {
    fn recovery(&self) -> Recovery {
        // `book_diffs` brings a fresh whole book by itself.
        Recovery::Resubscribe
    }

    fn on_update(&mut self, state: &mut SyncState, update: &BookDelta) -> Outcome {
        if update.snapshot {
            state.book.clear();
        } else if !state.is_synced() {
            return Outcome::Ignored;
        }
        if let Err(e) = state.book.apply(&update.bids, &update.asks) {
            return state.malformed(&e);
        }
        state.last_id = Some(update.last_id);
        Outcome::Applied
    }

    fn restart(&mut self) {}

    fn waiting(&self) -> bool {
        false
    }
}

impl Remote {
    /// A live book of `symbol` kept `depth` levels a side from the gateway's diffs, once it
    /// is in sync (at most `wait`). Books of one symbol are shared.
    pub async fn book(
        self: &Arc<Self>,
        symbol: &str,
        depth: usize,
        wait: Duration,
    ) -> Result<BookHandle> {
        let handle = self.live_book(symbol, depth, LiveBook::handle)?;
        match tokio::time::timeout(wait, handle.book.wait_synced()).await {
            Ok(()) => Ok(handle),
            Err(_) => Err(Error::Timeout {
                what: format!("the {symbol} book from the gateway to sync"),
                after: wait,
            }),
        }
    }

    /// Views of the books of `symbols` (best `depth` levels a side) after each change,
    /// conflated per symbol, the current view first: as a connector's `book_updates`.
    pub fn book_updates(
        self: &Arc<Self>,
        symbols: &[String],
        depth: usize,
    ) -> Result<stream::Receiver<ViewTicket>> {
        if symbols.is_empty() {
            return Err(Error::invalid_argument(
                "symbols",
                "name at least one symbol",
            ));
        }
        let (tx, rx) = stream::conflating(symbols.len(), ViewTicket::key);
        let tx = Arc::new(tx);
        for symbol in symbols {
            self.live_book(symbol, depth, |book| {
                book.add_view_reader(tx.clone(), depth);
            })?;
        }
        Ok(rx)
    }

    /// The book of `symbol` deep enough for `depth`, found or started, and claimed by `claim`
    /// under the lock that also decides whether an unused book is dropped.
    fn live_book<T>(
        self: &Arc<Self>,
        symbol: &str,
        depth: usize,
        claim: impl FnOnce(&Arc<LiveBook>) -> T,
    ) -> Result<T> {
        token("symbol", symbol)?;
        let depth = depth.max(1);
        let mut books = self.books.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(book) = books.get(symbol).filter(|b| b.depth >= depth) {
            return Ok(claim(book));
        }
        let diffs = self.book_diffs(symbol, DIFFS)?;
        let book = Arc::new(LiveBook::new(
            self.source,
            Symbol::from_wire(symbol).map_err(|e| Error::invalid_argument("symbol", e))?,
            self.subjects.book(&self.label, symbol)?,
            depth,
            Box::new(Relay),
        ));
        // A deeper book replaces a shallower one; the old one's holders keep theirs.
        books.insert(symbol.to_owned(), book.clone());
        let claimed = claim(&book);
        let (remote, weak) = (Arc::downgrade(self), Arc::downgrade(&book));
        let first = std::sync::Mutex::new(Some(diffs));
        let symbol = symbol.to_owned();
        self.supervisor.spawn(format!("book/{symbol}"), move |ctx| {
            let diffs = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            let (remote, weak, symbol) = (remote.clone(), weak.clone(), symbol.clone());
            async move {
                let diffs = match (diffs, remote.upgrade()) {
                    (Some(diffs), _) => diffs,
                    (None, Some(r)) => r.book_diffs(&symbol, DIFFS)?,
                    (None, None) => return Ok(()),
                };
                keep(ctx, remote, weak, &symbol, diffs).await
            }
        });
        Ok(claimed)
    }
}

/// Applies the diffs to the book until nobody holds it.
async fn keep(
    ctx: ChildContext,
    remote: Weak<Remote>,
    book: Weak<LiveBook>,
    symbol: &str,
    diffs: Receiver<BookDiff>,
) -> Result<()> {
    let mut batch = Vec::with_capacity(256);
    loop {
        ctx.checkpoint();
        let drained = tokio::select! {
            _ = ctx.cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(IN_USE_EVERY) => Drained::Open,
            drained = diffs.next_batch(256, &mut batch) => drained,
        };
        let Some(live) = book.upgrade() else {
            return Ok(());
        };
        if !live.in_use() && forget(&remote, &live, symbol) {
            return Ok(());
        }
        for item in batch.drain(..) {
            let Item::Event(diff) = item else { continue }; // never-drop: no gaps
            let step = if diff.synced {
                let id = diff.update_id.unwrap_or_default();
                live.on_update(
                    &BookDelta {
                        symbol: diff.symbol,
                        snapshot: diff.reset,
                        first_id: id,
                        last_id: id,
                        prev_last_id: None,
                        bids: diff.bids,
                        asks: diff.asks,
                        exchange_time_ms: diff.exchange_time_ms,
                    },
                    0,
                    diff.local_time_ns,
                )
            } else {
                live.unsync("the gateway's book is out of sync")
            };
            if step.changed || step.synced {
                live.publish();
            }
        }
        if let Drained::Ended(end) = drained {
            if let Some(error) = &end {
                live.fail_readers(error);
            }
            return end.map_or(Ok(()), Err);
        }
    }
}

/// Drops an unused book from the remote's books, under the lock claims take: `false` if it
/// was claimed meanwhile.
fn forget(remote: &Weak<Remote>, book: &Arc<LiveBook>, symbol: &str) -> bool {
    let Some(remote) = remote.upgrade() else {
        return true;
    };
    let mut books = remote.books.lock().unwrap_or_else(|p| p.into_inner());
    if book.in_use() {
        return false;
    }
    if books.get(symbol).is_some_and(|b| Arc::ptr_eq(b, book)) {
        books.remove(symbol);
    }
    true
}
