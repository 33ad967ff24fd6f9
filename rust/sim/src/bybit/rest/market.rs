//! Bybit v5 REST market data: instruments, order book, tickers and recent trades for the
//! `spot` and `linear` categories, and the ticker and trade id shapes the public stream reuses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, bad_symbol, need, unknown};
use crate::book::Side;
use crate::bybit::{Category, num, side_str, uuid};
use crate::exchange::Exchange;
use crate::exchange::candles::{Candle, Span};
use crate::market::Market;

pub(super) fn instruments(market: &Market, category: Category, symbol: Option<&str>) -> Answer {
    let ex = market.lock();
    if symbol.is_some_and(|s| unknown(&ex, s)) {
        return Ok(json!({"category": category.as_str(), "list": [], "nextPageCursor": ""}));
    }
    let list: Vec<Value> = ex
        .symbols
        .values()
        .filter(|s| symbol.is_none_or(|f| f == s.spec.name))
        .map(|s| instrument(&s.spec, category))
        .collect();
    Ok(json!({"category": category.as_str(), "list": list, "nextPageCursor": ""}))
}

pub(super) fn orderbook(
    market: &Market,
    category: Category,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let ex = market.lock();
    let name = need(params, "symbol")?;
    if unknown(&ex, name) {
        return Err(bad_symbol(category));
    }
    let default = if category == Category::Spot { 1 } else { 25 };
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
        .clamp(1, 1000);
    let s = &ex.symbols[name];
    let side = |side| -> Vec<Value> {
        s.book
            .levels(side, limit)
            .into_iter()
            .map(|(p, q)| json!([num(s.spec.price(p)), num(s.spec.qty(q))]))
            .collect()
    };
    Ok(
        json!({"s": name, "b": side(Side::Buy), "a": side(Side::Sell), "ts": now, "u": s.book.update_id,
        "seq": s.book.update_id, "cts": now}),
    )
}

pub(super) fn tickers(
    market: &Market,
    category: Category,
    symbol: Option<&str>,
    now: i64,
) -> Answer {
    let ex = market.lock();
    if symbol.is_some_and(|s| unknown(&ex, s)) {
        return Err(bad_symbol(category));
    }
    let list: Vec<Value> = ex
        .symbols
        .values()
        .filter(|s| symbol.is_none_or(|f| f == s.spec.name))
        .map(|s| ticker(&ex, &s.spec.name, category, false, now))
        .collect();
    Ok(json!({"category": category.as_str(), "list": list}))
}

pub(super) fn recent_trades(
    market: &Market,
    category: Category,
    params: &HashMap<String, String>,
) -> Answer {
    let ex = market.lock();
    let name = need(params, "symbol")?;
    if unknown(&ex, name) {
        return Err(bad_symbol(category));
    }
    let limit: usize = params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(60)
        .clamp(1, 1000);
    let list: Vec<Value> = ex.symbols[name]
        .recent_trades
        .iter()
        .rev()
        .take(limit)
        .map(|(id, p, q, taker, t)| json!({"execId": trade_id(category, *id), "symbol": name, "price": num(*p),
            "size": num(*q), "side": side_str(*taker), "time": t.to_string(), "isBlockTrade": false}))
        .collect();
    Ok(json!({"category": category.as_str(), "list": list}))
}

/// An integer parameter, if given.
pub(super) fn int_param(
    params: &HashMap<String, String>,
    key: &str,
) -> Result<Option<i64>, super::Fail> {
    params
        .get(key)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| super::fail(10001, format!("params error: {key} invalid")))
        })
        .transpose()
}

/// The `symbol` parameter, if the category lists it.
fn listed<'a>(
    ex: &Exchange,
    params: &'a HashMap<String, String>,
    category: Category,
) -> Result<&'a str, super::Fail> {
    let name = need(params, "symbol")?;
    if unknown(ex, name) {
        return Err(bad_symbol(category));
    }
    Ok(name)
}

/// Open interest now (linear): the current `intervalTime` bucket only; the simulator keeps no
/// history of it.
pub(super) fn open_interest(
    market: &Market,
    category: Category,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    if category != Category::Linear {
        return Err(super::fail(10001, "Illegal category"));
    }
    let ex = market.lock();
    let name = listed(&ex, params, category)?;
    let minutes: i64 = match need(params, "intervalTime")? {
        "5min" => 5,
        "15min" => 15,
        "30min" => 30,
        "1h" => 60,
        "4h" => 240,
        "1d" => 1440,
        _ => return Err(super::fail(10001, "params error: intervalTime invalid")),
    };
    let bucket = now.div_euclid(minutes * 60_000) * minutes * 60_000;
    let oi = ex.symbols[name].open_interest;
    let list = vec![
        json!({"openInterest": num(oi * Decimal::TWO), "singleOpenInterest": num(oi),
        "timestamp": bucket.to_string()}),
    ];
    Ok(json!({"symbol": name, "category": category.as_str(), "list": list, "nextPageCursor": ""}))
}

/// Past fundings (linear), newest first. A lone `startTime` is refused, as on the venue; with
/// both, the latest `limit` in the window.
pub(super) fn funding_history(
    market: &Market,
    category: Category,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    if category != Category::Linear {
        return Err(super::fail(10001, "Illegal category"));
    }
    let ex = market.lock();
    let name = listed(&ex, params, category)?;
    let int = |key: &str| int_param(params, key);
    let (start, end) = (int("startTime")?, int("endTime")?);
    if start.is_some() && end.is_none() {
        return Err(super::fail(
            10001,
            "params error: endTime is required when startTime is sent",
        ));
    }
    let limit = int("limit")?.unwrap_or(200);
    if !(1..=200).contains(&limit) {
        return Err(super::fail(
            10001,
            "params error: limit must be in [1, 200]",
        ));
    }
    let mut rows = crate::exchange::derivs::fundings(name, start, end, now, limit as usize, false);
    rows.reverse();
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(t, rate)| json!({"symbol": name, "fundingRate": num(rate), "fundingRateTimestamp": t.to_string()}))
        .collect();
    Ok(json!({"category": category.as_str(), "list": list}))
}

/// Candles, newest first: the oldest `limit` from `start` when it is given (so a lone `start`
/// pages forward, as clients rely on), else the latest up to `end` or now.
pub(super) fn klines(
    market: &Market,
    category: Category,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let ex = market.lock();
    let name = need(params, "symbol")?;
    if unknown(&ex, name) {
        return Err(bad_symbol(category));
    }
    let interval = need(params, "interval")?;
    let span = Span::bybit(interval).ok_or_else(|| super::fail(10001, "Invalid period!"))?;
    let int = |key: &str| int_param(params, key);
    let limit = int("limit")?.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(super::fail(
            10001,
            "params error: limit must be in [1, 1000]",
        ));
    }
    let (start, end) = (int("start")?, int("end")?);
    let mut candles =
        ex.symbols[name]
            .candles
            .range(span, start, end, now, limit as usize, start.is_some());
    candles.reverse();
    let list: Vec<Value> = candles
        .iter()
        .map(|c| {
            json!([
                c.open_ms.to_string(),
                num(c.open),
                num(c.high),
                num(c.low),
                num(c.close),
                num(c.volume),
                num(c.quote_volume.round_dp(8))
            ])
        })
        .collect();
    Ok(json!({"category": category.as_str(), "symbol": name, "list": list}))
}

/// A candle of the `kline.{interval}.{symbol}` topic.
pub fn kline_json(c: &Candle, interval: &str, confirm: bool, now: i64) -> Value {
    json!({"start": c.open_ms, "end": c.close_ms, "interval": interval, "open": num(c.open),
        "close": num(c.close), "high": num(c.high), "low": num(c.low), "volume": num(c.volume),
        "turnover": num(c.quote_volume.round_dp(8)), "confirm": confirm, "timestamp": now})
}

pub fn trade_id(category: Category, id: u64) -> String {
    match category {
        Category::Spot => (2_290_000_000_000_000_000u64 + id).to_string(),
        Category::Linear => uuid(0x7ade, id),
    }
}

fn instrument(spec: &crate::exchange::SymbolSpec, category: Category) -> Value {
    match category {
        Category::Spot => {
            json!({"symbol": spec.name, "baseCoin": spec.base, "quoteCoin": spec.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "none", "stTag": "0",
            "lotSizeFilter": {"basePrecision": num(spec.step), "quotePrecision": "0.00000001", "minOrderQty": num(spec.min_qty),
                "maxOrderQty": num(spec.max_qty), "minOrderAmt": num(spec.min_notional), "maxOrderAmt": "2000000",
                "maxLimitOrderQty": num(spec.max_qty), "maxMarketOrderQty": num(spec.max_qty), "postOnlyMaxLimitOrderSize": num(spec.max_qty)},
            "priceFilter": {"tickSize": num(spec.tick)}, "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
            "symbolType": ""})
        }
        Category::Linear => {
            json!({"symbol": spec.name, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": spec.base, "quoteCoin": spec.quote, "launchTime": "1585526400000", "deliveryTime": "0",
            "deliveryFeeRate": "", "priceScale": spec.price_decimals().to_string(),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": num(spec.tick), "maxPrice": "1999999.80", "tickSize": num(spec.tick)},
            "lotSizeFilter": {"maxOrderQty": num(spec.max_qty), "minOrderQty": num(spec.min_qty), "qtyStep": num(spec.step),
                "postOnlyMaxOrderQty": num(spec.max_qty), "maxMktOrderQty": num(spec.max_qty), "minNotionalValue": num(spec.min_notional)},
            "unifiedMarginTrade": true, "fundingInterval": 480, "settleCoin": spec.quote, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": false, "preListingInfo": null,
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"}, "symbolType": "", "displayName": ""})
        }
    }
}

/// A ticker; `stream` leaves out what the spot `tickers` topic does not carry (bid/ask).
pub fn ticker(ex: &Exchange, symbol: &str, category: Category, stream: bool, now: i64) -> Value {
    let s = &ex.symbols[symbol];
    let spec = &s.spec;
    let pct = s.stats().change_ratio.round_dp(6);
    let mut v = json!({"symbol": symbol, "lastPrice": num(s.last_price), "highPrice24h": num(s.high_24h),
        "lowPrice24h": num(s.low_24h), "prevPrice24h": num(s.open_24h), "volume24h": num(s.volume_24h),
        "turnover24h": num(s.quote_volume_24h.round_dp(8)), "price24hPcnt": num(pct)});
    let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
    if !(stream && category == Category::Spot) {
        v["bid1Price"] = json!(num(b));
        v["bid1Size"] = json!(num(bq));
        v["ask1Price"] = json!(num(a));
        v["ask1Size"] = json!(num(aq));
    }
    match category {
        Category::Spot => {
            v["usdIndexPrice"] = json!(num(s.last_price));
        }
        Category::Linear => {
            let mark = ex.mark(symbol).round_dp(spec.price_decimals());
            let oi = s.open_interest;
            let next = crate::exchange::derivs::next_funding_ms(now);
            for (k, val) in [
                ("tickDirection", json!("ZeroPlusTick")),
                ("prevPrice1h", json!(num(s.open_24h))),
                ("markPrice", json!(num(mark))),
                ("indexPrice", json!(num(ex.index_price(symbol)))),
                // Since 2026-06: `openInterest` both sides, `singleOpenInterest` one.
                ("openInterest", json!(num(oi * Decimal::TWO))),
                ("singleOpenInterest", json!(num(oi))),
                (
                    "openInterestValue",
                    json!(num((oi * Decimal::TWO * mark).round_dp(2))),
                ),
                (
                    "singleOpenInterestValue",
                    json!(num((oi * mark).round_dp(2))),
                ),
                (
                    "fundingRate",
                    json!(num(ex.funding_rate(symbol).round_dp(6))),
                ),
                ("nextFundingTime", json!(next.to_string())),
                ("fundingIntervalHour", json!("8")),
                ("fundingCap", json!("0.005")),
                ("predictedDeliveryPrice", json!("")),
                ("basisRate", json!("")),
                ("deliveryFeeRate", json!("")),
                ("deliveryTime", json!("0")),
                ("basis", json!("")),
            ] {
                v[k] = val;
            }
        }
    }
    v
}
