//! Public REST reads that are not candles: a book's depth snapshot.

use super::Connector;
use crate::Result;
use crate::model::{BookView, now_ns};

impl Connector {
    /// The venue's REST book of `symbol`, `limit` levels a side at most (fetched at the
    /// venue's smallest depth that holds them), as a synced view. A depth beyond the venue's
    /// is an `InvalidArgument`; the request is weighed by the rate limiter like any.
    pub async fn depth_snapshot(&self, symbol: &str, limit: usize) -> Result<BookView> {
        let info = self.listed_symbol(symbol)?;
        let request = self
            .adapter
            .depth_request(self.market, info.symbol, limit)?;
        let answer = self.rest_request(&request).await?;
        let mut view = self.adapter.depth_of(self.market, info.symbol, &answer)?;
        view.bids.truncate(limit);
        view.asks.truncate(limit);
        view.local_time_ns = now_ns();
        Ok(view)
    }
}
