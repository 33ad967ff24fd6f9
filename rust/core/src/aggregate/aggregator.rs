//! The aggregator: merged books over several connectors, opened once per canonical instrument
//! name (`BASE/QUOTE`, `BASE/QUOTE:SETTLE`) or by an explicit mapping, kept fresh by a
//! supervised staleness ticker, and their events to any number of readers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::merged::{Hub, MergedBook, Part};
use super::{AggregateEvent, MAX_VENUES, lock};
use crate::connector::Connector;
use crate::model::{Source, SymbolInfo};
use crate::stream::{self, Overflow};
use crate::{Error, Result};

/// `binance-spot`, `bybit-linear`: how the aggregator names a connector.
pub fn label(source: Source) -> String {
    format!("{}-{}", source.venue, source.market)
}

/// The canonical name of a listed instrument (see [`SymbolInfo::canonical`]).
pub fn canonical(info: &SymbolInfo) -> String {
    info.canonical()
}

/// Settings of an [`Aggregator`].
#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    /// Levels a side each venue book keeps (Bybit: the smallest topic that holds it).
    pub depth: usize,
    /// A venue book that has not changed for this long is left out (`None`: never).
    pub stale_after: Option<Duration>,
    /// How long `book()` waits for the venue books to sync.
    pub wait: Duration,
}

impl Default for AggregatorConfig {
    fn default() -> Self {
        AggregatorConfig {
            depth: 200,
            stale_after: Some(Duration::from_secs(5)),
            wait: Duration::from_secs(30),
        }
    }
}

/// Merged books over several connectors, one per canonical instrument name.
pub struct Aggregator {
    connectors: Vec<Arc<Connector>>,
    /// Explicit venue symbols by canonical name: (connector label, venue symbol).
    mapping: HashMap<String, Vec<(String, String)>>,
    config: AggregatorConfig,
    /// Each instrument's merged book, opened once (concurrent openings of one name share the
    /// work; different names open concurrently; a failed opening is tried again next time).
    books: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<MergedBook>>>>>,
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<String> = self
            .connectors
            .iter()
            .map(|c| {
                label(Source {
                    venue: c.venue,
                    market: c.market,
                })
            })
            .collect();
        f.debug_struct("Aggregator")
            .field("connectors", &labels)
            .finish_non_exhaustive()
    }
}

fn source_of(c: &Connector) -> Source {
    Source {
        venue: c.venue,
        market: c.market,
    }
}

impl Aggregator {
    /// An aggregator over `connectors` (one per venue and market). `mapping` names, for a
    /// canonical instrument, exactly which venue symbol each connector contributes (by label,
    /// e.g. `binance-usdm`); other instruments are found by their canonical names.
    pub fn new(
        connectors: Vec<Arc<Connector>>,
        mapping: HashMap<String, Vec<(String, String)>>,
        config: AggregatorConfig,
    ) -> Result<Aggregator> {
        if connectors.is_empty() || connectors.len() > MAX_VENUES {
            return Err(Error::invalid_argument(
                "connectors",
                format!("give 1 to {MAX_VENUES} connectors"),
            ));
        }
        let labels: Vec<String> = connectors.iter().map(|c| label(source_of(c))).collect();
        for (i, l) in labels.iter().enumerate() {
            if labels[..i].contains(l) {
                return Err(Error::invalid_argument(
                    "connectors",
                    format!("{l} is given twice: one connector per venue and market"),
                ));
            }
        }
        for (name, parts) in &mapping {
            for (l, _) in parts {
                if !labels.contains(l) {
                    return Err(Error::invalid_argument(
                        "mapping",
                        format!(
                            "{name}: no connector is {l} (connectors: {})",
                            labels.join(", ")
                        ),
                    ));
                }
            }
        }
        if config.depth == 0 {
            return Err(Error::invalid_argument("depth", "must be at least 1"));
        }
        Ok(Aggregator {
            connectors,
            mapping,
            config,
            books: Mutex::new(HashMap::new()),
            hub: Arc::default(),
        })
    }

    /// Which symbol each connector contributes to `name`.
    async fn resolve(&self, name: &str) -> Result<Vec<(Arc<Connector>, SymbolInfo)>> {
        if let Some(parts) = self.mapping.get(name) {
            let mut out = Vec::new();
            for (l, symbol) in parts {
                let connector = self
                    .connectors
                    .iter()
                    .find(|c| label(source_of(c)) == *l)
                    .cloned()
                    .ok_or_else(|| Error::invalid_argument("mapping", format!("no {l}")))?;
                let info = connector.symbol_info(symbol).await?;
                out.push((connector, info));
            }
            return Ok(out);
        }
        let mut out = Vec::new();
        for connector in &self.connectors {
            let table = connector.symbols().await?;
            let mut found: Vec<&SymbolInfo> =
                table.values().filter(|i| canonical(i) == name).collect();
            if found.len() > 1 {
                // A perpetual is named BASEQUOTE; dated contracts carry their date.
                found.retain(|i| i.symbol.as_str() == format!("{}{}", i.base_asset, i.quote_asset));
            }
            match found.as_slice() {
                [] => {}
                [info] => out.push((connector.clone(), (*info).clone())),
                _ => {
                    return Err(Error::invalid_argument(
                        "symbol",
                        format!(
                            "{name} names several {} symbols: give a mapping",
                            label(source_of(connector))
                        ),
                    ));
                }
            }
        }
        if out.is_empty() {
            let labels: Vec<String> = self
                .connectors
                .iter()
                .map(|c| label(source_of(c)))
                .collect();
            return Err(Error::invalid_argument(
                "symbol",
                format!(
                    "'{name}' is listed on none of {} (spot is BASE/QUOTE, linear BASE/QUOTE:SETTLE; \
                     spot and perpetual books merge only by a mapping)",
                    labels.join(", ")
                ),
            ));
        }
        Ok(out)
    }

    /// The merged book of `name` (opened on first use: venue books subscribed and followed),
    /// once every venue book is in sync or `config.wait` has passed with at least one in sync.
    pub async fn book(&self, name: &str) -> Result<Arc<MergedBook>> {
        let cell = lock(&self.books)
            .entry(name.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.open(name)).await.cloned()
    }

    async fn open(&self, name: &str) -> Result<Arc<MergedBook>> {
        let resolved = self.resolve(name).await?;
        let parts: Vec<Part> = resolved
            .iter()
            .map(|(c, info)| Part {
                source: source_of(c),
                symbol: info.symbol.as_str().to_owned(),
                tick: info.tick_size,
            })
            .collect();
        let merged = Arc::new(MergedBook::with_hub(
            name,
            &parts,
            self.config.stale_after,
            self.hub.clone(),
        )?);
        let mut handles = Vec::new();
        for (connector, info) in &resolved {
            handles.push(connector.book_handle(info.symbol.as_str(), self.config.depth)?);
        }
        let waits = handles.iter().map(|h| h.book.clone()).collect::<Vec<_>>();
        for (i, handle) in handles.into_iter().enumerate() {
            merged.follow(i, handle);
        }
        let all = futures_all(waits.iter().map(|b| b.wait_synced()));
        if tokio::time::timeout(self.config.wait, all).await.is_err()
            && !waits.iter().any(|b| b.is_synced())
        {
            return Err(Error::Timeout {
                what: format!("any venue book of {name} to sync"),
                after: self.config.wait,
            });
        }
        if let Some(stale_after) = self.config.stale_after {
            // Supervised by the first venue's connector: it lives while the merged book does.
            let supervisor = &resolved[0].0.supervisor;
            spawn_ticker(supervisor, name, Arc::downgrade(&merged), stale_after);
        }
        Ok(merged)
    }

    /// Closes every merged book: their venue books are no longer followed (nor subscribed, if
    /// nobody else reads them); `book()` opens a fresh one.
    pub fn close(&self) {
        let books: Vec<_> = lock(&self.books).drain().collect();
        for (_, cell) in books {
            if let Some(book) = cell.get() {
                book.close();
            }
        }
    }

    /// A merged book opened before by [`Aggregator::book`].
    pub fn opened(&self, name: &str) -> Result<Arc<MergedBook>> {
        let books = lock(&self.books);
        books
            .get(name)
            .and_then(|c| c.get())
            .cloned()
            .ok_or_else(|| {
                Error::invalid_argument(
                    "symbol",
                    format!("{name} is not followed yet: open it with book('{name}') first"),
                )
            })
    }

    /// Crossed markets and venues leaving or rejoining the merged books, from now on; a
    /// reader that falls behind gets a gap marker.
    pub fn events(&self, capacity: usize) -> stream::Receiver<AggregateEvent> {
        let (tx, rx) = stream::channel(capacity.max(1), Overflow::GapMarker);
        lock(&self.hub.readers).push(tx);
        rx
    }
}

/// Waits for every future.
async fn futures_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    for f in futures {
        f.await;
    }
}

/// Re-evaluates staleness while the merged book lives: a venue that goes quiet is left out
/// even though nothing arrives to say so.
fn spawn_ticker(
    supervisor: &crate::supervise::Supervisor,
    name: &str,
    merged: Weak<MergedBook>,
    stale_after: Duration,
) {
    let period = (stale_after / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    supervisor.spawn(format!("merged book {name}"), move |ctx| {
        let merged = merged.clone();
        async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Ok(()),
                    _ = interval.tick() => {}
                }
                ctx.checkpoint();
                match merged.upgrade() {
                    Some(merged) => merged.tick(),
                    None => return Ok(()),
                }
            }
        }
    });
}
