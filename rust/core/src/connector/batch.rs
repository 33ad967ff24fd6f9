//! Batches of writes: many orders placed or canceled in as few requests as the venue allows
//! (Binance USD-M `batchOrders`, Bybit `create-batch` / `cancel-batch`), single requests at once
//! where it has no batch endpoint (Binance spot) — every one through the same checks, limits
//! and state machine as a single write. Each order gets its own outcome, an order or a typed
//! error, never one exception for all; an answer lost on the way is resolved order by order by
//! client id, never by sending again.

use futures_util::future::join_all;
use tokio::time::Instant;

use super::Connector;
use super::trading::{AmendPlan, outcome_unknown};
use crate::model::{Decimal, Order, Symbol};
use crate::orders::{NewOrder, OrderRef};
use crate::venue::{Batch, Written};
use crate::{Error, Result};

impl Connector {
    /// Checks and places `orders`; one outcome each, in the order given.
    pub async fn place_batch(&self, orders: Vec<NewOrder>) -> Vec<Result<Order>> {
        let limit = self.trading.batch_limit(Batch::Place);
        if limit == 0 {
            return join_all(orders.into_iter().map(|o| self.place(o))).await;
        }
        let mut out: Vec<Option<Result<Order>>> = vec![None; orders.len()];
        // Checked and recorded first: what fails a check is never sent.
        let mut ready: Vec<(usize, NewOrder, Order)> = Vec::new();
        let mut alone: Vec<(usize, NewOrder)> = Vec::new();
        for (at, mut order) in orders.into_iter().enumerate() {
            // The venue's name of a canonical one (an unknown symbol fails its check below).
            if let Ok(info) = self.symbol_info(order.symbol.as_str()).await {
                order.symbol = info.symbol;
            }
            if !self.trading.batch_takes(&order) {
                alone.push((at, order));
                continue;
            }
            match self.expect_checked(&order).await {
                Ok(unanswered) => ready.push((at, order, unanswered)),
                Err(e) => out[at] = Some(Err(e)),
            }
        }
        let ready: Vec<(usize, (NewOrder, Order))> =
            ready.into_iter().map(|(at, o, u)| (at, (o, u))).collect();
        let singles = join_all(
            alone
                .into_iter()
                .map(|(at, o)| async move { (at, self.place(o).await) }),
        );
        let (singles, ()) = tokio::join!(
            singles,
            by_chunks(&mut out, &ready, limit, |chunk| self.place_chunk(chunk))
        );
        for (at, outcome) in singles {
            out[at] = Some(outcome);
        }
        finish(out)
    }

    /// The order's rules checked and its client id recorded as in use (UNKNOWN until answered).
    async fn expect_checked(&self, order: &NewOrder) -> Result<Order> {
        let info = self.symbol_info(order.symbol.as_str()).await?;
        self.check(&info, order)?;
        let unanswered = order.unanswered(info.source, self.server_time_ms());
        if !self.orders_mut().expect(unanswered.clone()) {
            return Err(Error::invalid_argument(
                "client_order_id",
                format!(
                    "'{}' was used already by this connector",
                    order.client_order_id
                ),
            ));
        }
        Ok(unanswered)
    }

    async fn place_chunk(&self, chunk: &[(usize, (NewOrder, Order))]) -> Vec<Result<Order>> {
        let orders: Vec<NewOrder> = chunk.iter().map(|(_, (o, _))| o.clone()).collect();
        let Some(request) = self.trading.place_batch(&orders) else {
            return vec![Err(Error::Internal("no batch place".into())); chunk.len()];
        };
        let sent_at = Instant::now();
        let answer = match self.request(&request).await {
            Ok(answer) => self.trading.placed_batch(&answer, chunk.len()),
            Err(error) => Err(error),
        };
        match answer {
            Ok(items) => {
                join_all(
                    chunk
                        .iter()
                        .zip(items)
                        .map(|((_, (order, unanswered)), item)| {
                            self.settle_item(order, unanswered.clone(), item)
                        }),
                )
                .await
            }
            // No answer, or one we cannot read: each order is looked up by its client id.
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                tracing::warn!(%error, n = chunk.len(), "batch place outcome unknown; looking each up");
                join_all(chunk.iter().map(|(_, (order, unanswered))| async move {
                    Ok(self
                        .resolve(order.symbol, unanswered.clone(), sent_at)
                        .await)
                }))
                .await
            }
            // The whole request was refused: no order of it exists.
            Err(error) => chunk
                .iter()
                .map(|(_, (_, unanswered))| {
                    self.reject(&mut unanswered.clone(), &error);
                    Err(error.clone())
                })
                .collect(),
        }
    }

    /// One order's outcome in a batch answer, through the state machine.
    async fn settle_item(
        &self,
        order: &NewOrder,
        unanswered: Order,
        item: Result<Written>,
    ) -> Result<Order> {
        let placed = match item {
            Ok(Written::Ack { order_id }) => {
                let which = OrderRef::ClientOrderId(order.client_order_id.clone());
                self.look_up_ack(order.symbol, &which, unanswered, &order_id)
                    .await
            }
            Ok(written) => self.settle_written(written).unwrap_or(unanswered),
            Err(error) => {
                self.refused(unanswered, &error).await;
                return Err(error);
            }
        };
        match self.trading.refusal(&placed) {
            Some(refusal) => Err(refusal),
            None => Ok(placed),
        }
    }

    /// Amends open LIMIT orders of `symbol`, each to its `(qty, price)` (either may be left
    /// as it is); one outcome each, in the order given (as [`Connector::amend`]). Where the
    /// venue has no batch amend (Binance spot), each is amended on its own, at once.
    pub async fn amend_batch(
        &self,
        symbol: &str,
        items: Vec<(OrderRef, Option<Decimal>, Option<Decimal>)>,
    ) -> Vec<Result<Order>> {
        let limit = self.trading.batch_limit(Batch::Amend);
        if limit == 0 {
            return join_all(
                items
                    .iter()
                    .map(|(w, qty, price)| self.amend(symbol, w, *qty, *price, None)),
            )
            .await;
        }
        let plans = join_all(
            items
                .iter()
                .map(|(w, qty, price)| self.plan_amend(symbol, w, *qty, *price)),
        )
        .await;
        let mut out: Vec<Option<Result<Order>>> = vec![None; items.len()];
        let mut ready = Vec::new();
        for (at, plan) in plans.into_iter().enumerate() {
            match plan {
                Ok(plan) => ready.push((at, plan)),
                Err(e) => out[at] = Some(Err(e)),
            }
        }
        by_chunks(&mut out, &ready, limit, |chunk| self.amend_chunk(chunk)).await;
        finish(out)
    }

    async fn amend_chunk(&self, chunk: &[(usize, AmendPlan)]) -> Vec<Result<Order>> {
        let items: Vec<(Order, Decimal, Decimal)> = chunk
            .iter()
            .map(|(_, p)| (p.current.clone(), p.qty, p.price))
            .collect();
        let Some(request) = self.trading.amend_batch(&items) else {
            return vec![Err(Error::Internal("no batch amend".into())); chunk.len()];
        };
        let answers: Vec<Result<Written>> = match self.request(&request).await {
            Ok(answer) => match self.trading.amended_batch(&answer, chunk.len()) {
                Ok(items) => items,
                Err(error) => vec![Err(error); chunk.len()],
            },
            Err(error) => vec![Err(error); chunk.len()],
        };
        // Each outcome as a single amendment's: a lost answer is looked up order by order.
        join_all(
            chunk
                .iter()
                .zip(answers)
                .map(|((_, plan), answer)| self.amend_outcome(&plan.current, answer)),
        )
        .await
    }

    /// Cancels orders of `symbol`; one outcome each, in the order given (as [`Connector::cancel`]:
    /// the order's state after the cancel, or why not).
    pub async fn cancel_batch(&self, symbol: &str, which: Vec<OrderRef>) -> Vec<Result<Order>> {
        let limit = self.trading.batch_limit(Batch::Cancel);
        if limit == 0 {
            return join_all(which.iter().map(|w| self.cancel(symbol, w))).await;
        }
        let symbol = match self.symbol_info(symbol).await {
            Ok(info) => info.symbol,
            Err(e) => return vec![Err(e); which.len()],
        };
        // One request names orders one way: ids and client ids go in batches of their own.
        let mut out: Vec<Option<Result<Order>>> = vec![None; which.len()];
        for by_client in [false, true] {
            let part: Vec<(usize, OrderRef)> = which
                .iter()
                .enumerate()
                .filter(|(_, w)| matches!(w, OrderRef::ClientOrderId(_)) == by_client)
                .map(|(at, w)| (at, w.clone()))
                .collect();
            by_chunks(&mut out, &part, limit, |c| self.cancel_chunk(symbol, c)).await;
        }
        finish(out)
    }

    async fn cancel_chunk(
        &self,
        symbol: Symbol,
        chunk: &[(usize, OrderRef)],
    ) -> Vec<Result<Order>> {
        let which: Vec<OrderRef> = chunk.iter().map(|(_, w)| w.clone()).collect();
        let Some(request) = self.trading.cancel_batch(symbol, &which) else {
            return vec![Err(Error::Internal("no batch cancel".into())); chunk.len()];
        };
        let answer = match self.request(&request).await {
            Ok(answer) => self.trading.canceled_batch(&answer, chunk.len()),
            Err(error) => Err(error),
        };
        match answer {
            Ok(items) => {
                join_all(which.iter().zip(items).map(|(w, item)| async move {
                    match item {
                        Ok(written) => match self.settle_written(written) {
                            Some(order) => Ok(order),
                            None => self.query_venue(symbol, w).await,
                        },
                        Err(error @ Error::OrderNotFound(_)) => {
                            // Often "already filled or canceled": learn its final state.
                            let _ = self.query_venue(symbol, w).await;
                            Err(error)
                        }
                        Err(error) => Err(error),
                    }
                }))
                .await
            }
            // Each cancel may or may not have happened: each order's own state says.
            Err(error) if outcome_unknown(&error) || matches!(error, Error::Protocol { .. }) => {
                join_all(which.iter().map(|w| {
                    let error = error.clone();
                    async move { self.query_venue(symbol, w).await.map_err(|_| error) }
                }))
                .await
            }
            Err(error) => vec![Err(error); chunk.len()],
        }
    }
}

/// Runs `items` (each with its place in the caller's list) in chunks of `limit`, every chunk at
/// once, and puts each outcome at its place in `out`.
async fn by_chunks<'a, T, F, Fut>(
    out: &mut [Option<Result<Order>>],
    items: &'a [(usize, T)],
    limit: usize,
    run: F,
) where
    F: Fn(&'a [(usize, T)]) -> Fut,
    Fut: std::future::Future<Output = Vec<Result<Order>>>,
{
    let chunks: Vec<&'a [(usize, T)]> = items.chunks(limit).collect();
    let answers = join_all(chunks.iter().map(|chunk| run(chunk))).await;
    for (chunk, results) in chunks.iter().zip(answers) {
        for ((at, _), result) in chunk.iter().zip(results) {
            out[*at] = Some(result);
        }
    }
}

/// The outcomes in the caller's order (every place is filled; an empty one would be our bug).
fn finish(out: Vec<Option<Result<Order>>>) -> Vec<Result<Order>> {
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Internal("a batch item had no outcome".into()))))
        .collect()
}
