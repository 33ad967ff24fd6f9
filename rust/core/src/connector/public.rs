//! Public REST reads that are not candles: a book's depth snapshot, a derivative's mark price
//! and funding, its open interest and funding history.

use super::Connector;
use crate::Result;
use crate::model::{BookView, FundingRate, MarkPrice, OpenInterest, now_ns};

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

    /// A derivative's mark and index price and coming funding (Binance premium index, Bybit
    /// linear ticker); spot is an `InvalidArgument`.
    pub async fn mark_price(&self, symbol: &str) -> Result<MarkPrice> {
        let info = self.listed_symbol(symbol)?;
        let request = self.adapter.mark_request(self.market, info.symbol)?;
        let answer = self.rest_request(&request).await?;
        let mut mark = self.adapter.mark_of(self.market, info.symbol, &answer)?;
        mark.local_time_ns = now_ns();
        Ok(mark)
    }

    /// A derivative's open interest now; spot is an `InvalidArgument`.
    pub async fn open_interest(&self, symbol: &str) -> Result<OpenInterest> {
        let info = self.listed_symbol(symbol)?;
        let request = self
            .adapter
            .open_interest_request(self.market, info.symbol)?;
        let answer = self.rest_request(&request).await?;
        let mut oi = self
            .adapter
            .open_interest_of(self.market, info.symbol, &answer)?;
        oi.local_time_ns = now_ns();
        Ok(oi)
    }

    /// At most `limit` (default and most: the venue's per request) past fundings of `symbol`
    /// in `start..=end`, oldest first: from `start` on if given, else the latest up to `end`.
    pub async fn funding_rates(
        &self,
        symbol: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<FundingRate>> {
        let info = self.listed_symbol(symbol)?;
        let most = self.adapter.funding_max(self.market);
        let limit = super::klines::checked_page(limit.unwrap_or(most), most, start, end)?;
        let in_range = |f: &FundingRate, from: Option<i64>| {
            from.is_none_or(|s| f.funding_time_ms >= s)
                && end.is_none_or(|e| f.funding_time_ms <= e)
        };
        let window = start.and(self.adapter.funding_window_ms(limit));
        let mut all: Vec<FundingRate> = Vec::new();
        let mut from = start;
        loop {
            let request =
                self.adapter
                    .funding_request(self.market, info.symbol, from, end, limit)?;
            let answer = self.rest_request(&request).await?;
            let page = self.adapter.funding_of(self.market, info.symbol, &answer)?;
            all.extend(page.into_iter().filter(|f| in_range(f, from)));
            // A venue answering from a start in windows: walk on until `limit` or the end.
            let (Some(span), Some(at)) = (window, from) else {
                break;
            };
            let next = at.saturating_add(span);
            if all.len() >= limit || next > end.unwrap_or_else(|| self.server_time_ms()) {
                break;
            }
            from = Some(next);
        }
        all.sort_by_key(|f| f.funding_time_ms);
        all.dedup_by_key(|f| f.funding_time_ms);
        all.truncate(limit);
        Ok(all)
    }
}
