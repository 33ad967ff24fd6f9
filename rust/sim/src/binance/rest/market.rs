//! Binance REST market data: exchangeInfo (symbols, filters, rate limits), depth, recent
//! trades, the 24h ticker and the book ticker, for spot and USD-M.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, ApiError, Params, symbol_of};
use crate::binance::{BinanceState, decimals, exact, fixed, interval_parts};
use crate::book::Side;
use crate::exchange::candles::{Candle, Span};
use crate::exchange::derivs::{fundings, next_funding_ms};

pub(super) fn exchange_info(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let wanted: Option<Vec<String>> = match (params.get("symbol"), params.get("symbols")) {
        (Some(s), _) => Some(vec![s.to_owned()]),
        (None, Some(list)) => Some(serde_json::from_str(list).map_err(|_| {
            ApiError::bad(-1100, "Illegal characters found in parameter 'symbols'.")
        })?),
        _ => None,
    };
    if let Some(names) = &wanted
        && names.iter().any(|n| !ex.symbols.contains_key(n))
    {
        return Err(ApiError::bad(-1121, "Invalid symbol."));
    }
    let limit = |kind: &str, window: std::time::Duration, limit: u32| {
        let (n, unit, _) = interval_parts(window);
        json!({"rateLimitType": kind, "interval": unit, "intervalNum": n, "limit": limit})
    };
    let rate_limits = vec![
        limit(
            "REQUEST_WEIGHT",
            st.limits.weight_window,
            st.limits.weight_limit,
        ),
        limit("ORDERS", st.limits.order_window, st.limits.order_limit),
    ];
    let symbols: Vec<Value> = ex
        .symbols
        .values()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.spec.name)))
        .map(|s| {
            let sp = &s.spec;
            if spot {
                let f = |d: Decimal| fixed(d, 8);
                json!({"symbol": sp.name, "status": "TRADING", "baseAsset": sp.base, "baseAssetPrecision": 8,
                    "quoteAsset": sp.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"], "icebergAllowed": false, "ocoAllowed": true,
                    "otoAllowed": false, "opoAllowed": false, "quoteOrderQtyMarketAllowed": true, "allowTrailingStop": true,
                    "cancelReplaceAllowed": true, "amendAllowed": true, "pegInstructionsAllowed": false,
                    "isSpotTradingAllowed": true, "isMarginTradingAllowed": false,
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": f(sp.tick), "maxPrice": f(Decimal::from(1_000_000)), "tickSize": f(sp.tick)},
                        {"filterType": "LOT_SIZE", "minQty": f(sp.min_qty), "maxQty": f(sp.max_qty), "stepSize": f(sp.step)},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": f(Decimal::ZERO), "maxQty": f(sp.max_qty), "stepSize": f(Decimal::ZERO)},
                        {"filterType": "NOTIONAL", "minNotional": f(sp.min_notional), "applyMinToMarket": true,
                            "maxNotional": f(Decimal::from(9_000_000)), "applyMaxToMarket": false, "avgPriceMins": 5},
                        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                            "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000}
                    ],
                    "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
                    "allowedSelfTradePreventionModes": ["NONE"]})
            } else {
                let (pd, qd) = (sp.price_decimals(), sp.qty_decimals());
                json!({"symbol": sp.name, "pair": sp.name, "contractType": "PERPETUAL", "deliveryDate": 4133404800000i64,
                    "onboardDate": 1569398400000i64, "status": "TRADING", "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000", "baseAsset": sp.base, "quoteAsset": sp.quote, "marginAsset": sp.quote,
                    "pricePrecision": pd, "quantityPrecision": qd, "baseAssetPrecision": 8, "quotePrecision": 8,
                    "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500", "marketTakeBound": "0.05",
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": fixed(sp.tick, pd), "maxPrice": fixed(Decimal::from(1_000_000), pd), "tickSize": fixed(sp.tick, pd)},
                        {"filterType": "LOT_SIZE", "minQty": fixed(sp.min_qty, qd), "maxQty": fixed(sp.max_qty, qd), "stepSize": fixed(sp.step, qd)},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": fixed(sp.min_qty, qd), "maxQty": fixed(sp.max_qty, qd), "stepSize": fixed(sp.step, qd)},
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": sp.min_notional.normalize().to_string()},
                        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"}
                    ],
                    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"]})
            }
        })
        .collect();
    let mut info = json!({"timezone": "UTC", "serverTime": now, "rateLimits": rate_limits, "exchangeFilters": [], "symbols": symbols});
    if !spot {
        info["futuresType"] = json!("U_MARGINED");
        info["assets"] =
            json!([{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "-10000"}]);
    }
    Ok(info)
}

fn levels(
    spec: &crate::exchange::SymbolSpec,
    levels: Vec<(i64, i64)>,
    decimals: Option<(u32, u32)>,
) -> Vec<Value> {
    levels
        .into_iter()
        .map(|(p, q)| {
            let (price, qty) = (spec.price(p), spec.qty(q));
            match decimals {
                Some((pd, qd)) => json!([exact(price, pd), exact(qty, qd)]),
                None => json!([fixed(price, 8), fixed(qty, 8)]),
            }
        })
        .collect()
}

pub(super) fn depth(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let limit = params.int("limit")?.unwrap_or(if spot { 100 } else { 500 });
    let valid = if spot {
        (1..=5000).contains(&limit)
    } else {
        [5, 10, 20, 50, 100, 500, 1000].contains(&limit)
    };
    if !valid {
        return Err(ApiError::bad(
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '5, 10, 20, 50, 100, 500, 1000'.",
        ));
    }
    let s = &ex.symbols[symbol];
    let decimals = (!spot).then(|| (s.spec.price_decimals(), s.spec.qty_decimals()));
    let bids = levels(&s.spec, s.book.levels(Side::Buy, limit as usize), decimals);
    let asks = levels(&s.spec, s.book.levels(Side::Sell, limit as usize), decimals);
    let mut out = json!({"lastUpdateId": s.book.update_id, "bids": bids, "asks": asks});
    if !spot {
        out["E"] = json!(now);
        out["T"] = json!(now);
    }
    Ok(out)
}

pub(super) fn trades(st: &BinanceState, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let limit = params.int("limit")?.unwrap_or(500).clamp(1, 1000) as usize;
    let s = &ex.symbols[symbol];
    let (pd, qd) = decimals(spot, &s.spec);
    let skip = s.recent_trades.len().saturating_sub(limit);
    let list: Vec<Value> = s
        .recent_trades
        .iter()
        .skip(skip)
        .map(|(id, p, q, taker, t)| {
            let mut v = json!({"id": id, "price": exact(*p, pd), "qty": exact(*q, qd), "quoteQty": fixed(*p * *q, pd),
                "time": t, "isBuyerMaker": *taker == Side::Sell});
            if spot {
                v["isBestMatch"] = json!(true);
            }
            v
        })
        .collect();
    Ok(Value::Array(list))
}

/// `aggTrades` (each of the simulator's trades is its own aggregate): by `fromId`, or a time
/// window (USD-M less than an hour), or the latest.
pub(super) fn agg_trades(st: &BinanceState, params: &Params) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let s = &ex.symbols[symbol];
    let (pd, qd) = decimals(spot, &s.spec);
    let rows = s
        .recent_trades
        .iter()
        .map(|(id, p, q, taker, t)| {
            let mut v = json!({"a": id, "p": exact(*p, pd), "q": exact(*q, qd), "f": id, "l": id,
                "T": t, "m": *taker == Side::Sell});
            if spot {
                v["M"] = json!(true);
            }
            (*id, *t, v)
        })
        .collect();
    let longest = (!spot).then_some((3_599_999, "1 hours"));
    super::paged(rows, params, "fromId", longest)
}

/// Candles: `startTime` anchors (the oldest from it), else the latest up to `endTime` or now;
/// rows `[t, o, h, l, c, v, T, q, n, V, Q, "0"]`.
pub(super) fn klines(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let span = Span::binance(params.require("interval")?, spot)
        .ok_or_else(|| ApiError::bad(-1120, "Invalid interval."))?;
    let most = if spot { 1000 } else { 1500 };
    let limit = params.int("limit")?.unwrap_or(500);
    if !(1..=most).contains(&limit) {
        return Err(ApiError::bad(
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    let (start, end) = (params.int("startTime")?, params.int("endTime")?);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::bad(-1023, "Start time is greater than end time."));
    }
    let s = &ex.symbols[symbol];
    let (pd, qd) = decimals(spot, &s.spec);
    let candles = s
        .candles
        .range(span, start, end, now, limit as usize, start.is_some());
    let qd_quote = quote_decimals(spot);
    Ok(Value::Array(
        candles
            .iter()
            .map(|c| kline_row(c, (pd, qd, qd_quote)))
            .collect(),
    ))
}

/// `premiumIndex`: one symbol's mark, index and funding, or every symbol's without `symbol`.
pub(super) fn premium_index(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let ex = st.market.lock();
    let one = |symbol: &str| {
        json!({"symbol": symbol, "markPrice": fixed(ex.mark(symbol), 8),
            "indexPrice": fixed(ex.index_price(symbol), 8), "estimatedSettlePrice": fixed(ex.index_price(symbol), 8),
            "lastFundingRate": fixed(ex.funding_rate(symbol), 8), "interestRate": "0.00010000",
            "nextFundingTime": next_funding_ms(now), "time": now})
    };
    match params.get("symbol") {
        Some(_) => Ok(one(symbol_of(&ex, params)?)),
        None => Ok(Value::Array(ex.symbols.keys().map(|s| one(s)).collect())),
    }
}

/// `openInterest`: contracts open now.
pub(super) fn open_interest(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let s = &ex.symbols[symbol];
    Ok(
        json!({"openInterest": exact(s.open_interest, s.spec.qty_decimals()), "symbol": symbol, "time": now}),
    )
}

/// `fundingRate`: past fundings, oldest first; `startTime` anchors, else the latest.
pub(super) fn funding_rate(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let ex = st.market.lock();
    let symbol = symbol_of(&ex, params)?;
    let limit = params.int("limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad(
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    let (start, end) = (params.int("startTime")?, params.int("endTime")?);
    let mark = fixed(ex.symbols[symbol].spec.start_price, 8);
    let rows = fundings(symbol, start, end, now, limit as usize, start.is_some());
    Ok(Value::Array(
        rows.into_iter()
            .map(|(t, rate)| json!({"symbol": symbol, "fundingRate": fixed(rate, 8), "fundingTime": t, "markPrice": mark}))
            .collect(),
    ))
}

/// Decimals of a candle's quote volume: spot 8, USD-M 5 (as recorded: `"q":"423075730671.12853"`).
pub fn quote_decimals(spot: bool) -> u32 {
    if spot { 8 } else { 5 }
}

/// A REST kline row.
fn kline_row(c: &Candle, (pd, qd, vd): (u32, u32, u32)) -> Value {
    json!([
        c.open_ms,
        exact(c.open, pd),
        exact(c.high, pd),
        exact(c.low, pd),
        exact(c.close, pd),
        exact(c.volume, qd),
        c.close_ms,
        exact(c.quote_volume, vd),
        c.trades,
        exact(c.taker_buy_volume, qd),
        exact(c.taker_buy_quote_volume, vd),
        "0"
    ])
}

pub(super) fn ticker(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let render = |s: &crate::exchange::SymbolState| {
        let (pd, qd) = decimals(spot, &s.spec);
        let st = s.stats();
        let (change, vwap, first, last, last_qty) = (
            st.change,
            st.vwap,
            st.first_trade,
            st.last_trade,
            st.last_qty,
        );
        let pct = (st.change_ratio * Decimal::from(100)).round_dp(3);
        let mut v = json!({"symbol": s.spec.name, "priceChange": fixed(change, pd), "priceChangePercent": fixed(pct, 3),
            "weightedAvgPrice": fixed(vwap, pd), "lastPrice": exact(s.last_price, pd), "lastQty": exact(last_qty, qd),
            "openPrice": fixed(s.open_24h, pd), "highPrice": fixed(s.high_24h, pd), "lowPrice": fixed(s.low_24h, pd),
            "volume": fixed(s.volume_24h, qd), "quoteVolume": fixed(s.quote_volume_24h, 2), "openTime": now - 86_400_000,
            "closeTime": now, "firstId": first, "lastId": last, "count": s.trade_count});
        if spot {
            let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
            v["prevClosePrice"] = json!(fixed(s.open_24h, pd));
            v["bidPrice"] = json!(exact(b, pd));
            v["bidQty"] = json!(exact(bq, qd));
            v["askPrice"] = json!(exact(a, pd));
            v["askQty"] = json!(exact(aq, qd));
        }
        v
    };
    match params.get("symbol") {
        Some(_) => Ok(render(&ex.symbols[symbol_of(&ex, params)?])),
        None => Ok(Value::Array(ex.symbols.values().map(render).collect())),
    }
}

pub(super) fn book_ticker(st: &BinanceState, params: &Params, now: i64) -> Answer {
    let spot = st.spot();
    let ex = st.market.lock();
    let render = |s: &crate::exchange::SymbolState| {
        let (pd, qd) = decimals(spot, &s.spec);
        let ((b, bq), (a, aq)) = (s.top(Side::Buy), s.top(Side::Sell));
        let mut v = json!({"symbol": s.spec.name, "bidPrice": exact(b, pd), "bidQty": exact(bq, qd),
            "askPrice": exact(a, pd), "askQty": exact(aq, qd)});
        if !spot {
            v["time"] = json!(now);
            v["lastUpdateId"] = json!(s.book.update_id);
        }
        v
    };
    match params.get("symbol") {
        Some(_) => Ok(render(&ex.symbols[symbol_of(&ex, params)?])),
        None => Ok(Value::Array(ex.symbols.values().map(render).collect())),
    }
}
