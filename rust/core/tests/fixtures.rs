//! Every recorded Binance market-stream message (tests/fixtures/real) is read, and every number
//! of the kinds we handle comes out with exactly the digits the venue sent.

use std::path::PathBuf;

use serde_json::Value;
use tradewire_core::model::Market;
use tradewire_core::venue::binance::messages::{MarketMessage, parse};
use tradewire_core::venue::bybit::messages::{self as bybit, TopicMessage};

fn messages(dir: &str) -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real")
        .join(dir);
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") {
            for (k, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                out.push((format!("{name}:{}", k + 1), line.to_owned()));
            }
        } else {
            out.push((name, text));
        }
    }
    out
}

fn data(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap();
    v.get("data").cloned().unwrap_or(v)
}

/// Levels exactly as the venue wrote them.
fn exact(levels: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    levels
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (text(&l[0]), text(&l[1])))
        .collect()
}

/// Our levels as text: `Decimal` keeps the venue's scale, so equal text means every digit kept.
fn ours(levels: &[tradewire_core::model::Level]) -> Vec<(String, String)> {
    levels
        .iter()
        .map(|l| (l.price.to_string(), l.qty.to_string()))
        .collect()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

#[test]
fn every_recorded_binance_market_message_reads_exactly() {
    for (dir, market) in [
        ("binance-spot/ws-public", Market::Spot),
        ("binance-usdm/ws-public", Market::Usdm),
    ] {
        let mut read = 0;
        for (name, text) in messages(dir) {
            let message = parse(market, &text, 0).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            let raw = data(&text);
            match message {
                MarketMessage::Trade(t) => {
                    assert_eq!(
                        (t.price.to_string(), t.qty.to_string()),
                        (s(&raw, "p"), s(&raw, "q")),
                        "{name}"
                    );
                    let id = raw
                        .get("t")
                        .or(raw.get("a"))
                        .or(raw.get("f"))
                        .and_then(Value::as_u64)
                        .unwrap();
                    assert_eq!(t.trade_id.as_str(), id.to_string(), "{name}");
                }
                MarketMessage::AggTrade(t) => {
                    assert_eq!(
                        (t.price.to_string(), t.qty.to_string()),
                        (s(&raw, "p"), s(&raw, "q")),
                        "{name}"
                    );
                    let id = raw.get("a").or(raw.get("f")).and_then(Value::as_u64);
                    assert_eq!(Some(t.agg_id), id, "{name}");
                    assert_eq!(
                        (t.first_trade_id, t.last_trade_id),
                        (raw["f"].as_u64(), raw["l"].as_u64()),
                        "{name}"
                    );
                }
                MarketMessage::Marks(marks) => {
                    let raws: Vec<Value> = match raw.as_array() {
                        Some(all) => all.clone(),
                        None => vec![raw.clone()],
                    };
                    assert_eq!(marks.len(), raws.len(), "{name}");
                    for (m, r) in marks.iter().zip(&raws) {
                        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
                        assert_eq!(Some(m.mark_price.to_string()), text("p"), "{name}");
                        assert_eq!(m.index_price.map(|d| d.to_string()), text("i"), "{name}");
                        assert_eq!(
                            m.estimated_settle_price.map(|d| d.to_string()),
                            text("P"),
                            "{name}"
                        );
                        // A delivery contract (`T` 0) has no funding.
                        let next = r["T"].as_i64().filter(|t| *t > 0);
                        assert_eq!(m.next_funding_time_ms, next, "{name}");
                        let rate = text("r").filter(|_| next.is_some());
                        assert_eq!(m.funding_rate.map(|d| d.to_string()), rate, "{name}");
                    }
                }
                MarketMessage::Liquidation(l) => {
                    let o = &raw["o"];
                    assert_eq!(
                        (l.price.to_string(), l.qty.to_string(), l.symbol.as_str()),
                        (s(o, "p"), s(o, "q"), o["s"].as_str().unwrap()),
                        "{name}"
                    );
                    let long = o["S"] == "SELL";
                    assert_eq!(
                        l.position_side,
                        if long {
                            tradewire_core::model::PositionSide::Long
                        } else {
                            tradewire_core::model::PositionSide::Short
                        }
                    );
                    assert_eq!(l.average_price.map(|d| d.to_string()), Some(s(o, "ap")));
                }
                MarketMessage::Depth(d) => {
                    assert_eq!(ours(&d.bids), exact(&raw["b"]), "{name}");
                    assert_eq!(ours(&d.asks), exact(&raw["a"]), "{name}");
                    assert_eq!(
                        (d.first_id, d.last_id),
                        (raw["U"].as_u64().unwrap(), raw["u"].as_u64().unwrap())
                    );
                    assert_eq!(
                        d.prev_last_id,
                        raw.get("pu").and_then(Value::as_u64),
                        "{name}"
                    );
                }
                MarketMessage::BookTop(b) => {
                    let got =
                        [b.bid.price, b.bid.qty, b.ask.price, b.ask.qty].map(|d| d.to_string());
                    assert_eq!(got, ["b", "B", "a", "A"].map(|k| s(&raw, k)), "{name}");
                }
                MarketMessage::Tickers(tickers) => {
                    let raws: Vec<Value> = match raw.as_array() {
                        Some(all) => all.clone(),
                        None => vec![raw.clone()],
                    };
                    assert_eq!(tickers.len(), raws.len(), "{name}");
                    for (t, r) in tickers.iter().zip(&raws) {
                        assert_eq!(
                            (t.last.to_string(), t.volume_24h.to_string()),
                            (s(r, "c"), s(r, "v")),
                            "{name}"
                        );
                        assert_eq!(
                            t.bid.map(|b| b.to_string()),
                            r.get("b").and_then(Value::as_str).map(str::to_owned)
                        );
                    }
                }
                MarketMessage::Kline(k) => {
                    let c = &raw["k"];
                    let got = [k.open, k.high, k.low, k.close, k.volume, k.quote_volume]
                        .map(|d| d.to_string());
                    assert_eq!(
                        got,
                        ["o", "h", "l", "c", "v", "q"].map(|f| s(c, f)),
                        "{name}"
                    );
                    assert_eq!(
                        (
                            k.open_time_ms,
                            k.close_time_ms,
                            k.closed,
                            k.interval.as_str()
                        ),
                        (
                            c["t"].as_i64().unwrap(),
                            c["T"].as_i64().unwrap(),
                            c["x"].as_bool().unwrap(),
                            c["i"].as_str().unwrap()
                        ),
                        "{name}"
                    );
                    assert_eq!(
                        k.close_time_ms,
                        k.interval.close_of(k.open_time_ms),
                        "{name}"
                    );
                    assert_eq!(k.trades, c["n"].as_u64(), "{name}");
                }
                MarketMessage::Other => continue,
            }
            read += 1;
        }
        assert!(read >= 10, "{dir}: only {read} messages of kinds we read");
    }
}

#[test]
fn every_recorded_bybit_public_message_reads_exactly() {
    for (dir, market) in [
        ("bybit-spot/ws-public", Market::Spot),
        ("bybit-linear/ws-public", Market::Linear),
    ] {
        let mut read = 0;
        for (name, text) in messages(dir) {
            let message =
                bybit::parse(market, &text, 0).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            let raw: Value = serde_json::from_str(&text).unwrap();
            match message {
                TopicMessage::Trades(trades) => {
                    let items = raw["data"].as_array().unwrap();
                    assert_eq!(trades.len(), items.len(), "{name}");
                    for (t, r) in trades.iter().zip(items) {
                        assert_eq!(
                            (t.price.to_string(), t.qty.to_string()),
                            (s(r, "p"), s(r, "v")),
                            "{name}"
                        );
                        assert_eq!(t.trade_id.as_str(), s(r, "i"), "{name}");
                    }
                }
                TopicMessage::Book(b) => {
                    assert_eq!(
                        (ours(&b.bids), ours(&b.asks)),
                        (exact(&raw["data"]["b"]), exact(&raw["data"]["a"])),
                        "{name}"
                    );
                    assert_eq!(b.update_id, raw["data"]["u"].as_u64().unwrap(), "{name}");
                    assert_eq!(
                        b.seq,
                        raw["data"].get("seq").and_then(Value::as_u64),
                        "{name}"
                    );
                }
                TopicMessage::Ticker(t) => {
                    let d = &raw["data"];
                    let field = |k: &str| {
                        d.get(k)
                            .and_then(Value::as_str)
                            .filter(|v| !v.is_empty())
                            .map(str::to_owned)
                    };
                    let ours = |v: Option<rust_decimal::Decimal>| v.map(|v| v.to_string());
                    assert_eq!(ours(t.last), field("lastPrice"), "{name}");
                    assert_eq!(
                        (ours(t.bid), ours(t.ask_qty)),
                        (field("bid1Price"), field("ask1Size")),
                        "{name}"
                    );
                    assert_eq!(ours(t.quote_volume_24h), field("turnover24h"), "{name}");
                    assert_eq!(ours(t.mark_price), field("markPrice"), "{name}");
                    assert_eq!(ours(t.index_price), field("indexPrice"), "{name}");
                    assert_eq!(ours(t.funding_rate), field("fundingRate"), "{name}");
                    assert_eq!(ours(t.open_interest), field("openInterest"), "{name}");
                }
                TopicMessage::Liquidations(all) => {
                    let items = raw["data"].as_array().unwrap();
                    assert_eq!(all.len(), items.len(), "{name}");
                    for (l, r) in all.iter().zip(items) {
                        assert_eq!(
                            (l.price.to_string(), l.qty.to_string(), l.exchange_time_ms),
                            (s(r, "p"), s(r, "v"), r["T"].as_i64().unwrap()),
                            "{name}"
                        );
                        // `S` is the position's side: Buy means a long was liquidated.
                        let long = r["S"] == "Buy";
                        assert_eq!(
                            l.position_side == tradewire_core::model::PositionSide::Long,
                            long
                        );
                    }
                }
                TopicMessage::Klines(klines) => {
                    let items = raw["data"].as_array().unwrap();
                    assert_eq!(klines.len(), items.len(), "{name}");
                    for (k, r) in klines.iter().zip(items) {
                        let got = [k.open, k.high, k.low, k.close, k.volume, k.quote_volume]
                            .map(|d| d.to_string());
                        let want = ["open", "high", "low", "close", "volume", "turnover"];
                        assert_eq!(got, want.map(|f| s(r, f)), "{name}");
                        assert_eq!(
                            (k.open_time_ms, k.close_time_ms, k.closed),
                            (
                                r["start"].as_i64().unwrap(),
                                r["end"].as_i64().unwrap(),
                                r["confirm"].as_bool().unwrap()
                            ),
                            "{name}"
                        );
                        assert_eq!(k.close_time_ms, k.interval.close_of(k.open_time_ms));
                    }
                }
                TopicMessage::Other => continue,
            }
            read += 1;
        }
        assert!(read >= 3, "{dir}: only {read} messages of kinds we read");
    }
}

fn rest(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn documented_funding_and_open_interest_answers_read_exactly() {
    use tradewire_core::model::Symbol;
    use tradewire_core::venue::{binance, bybit as by};
    let premium = binance::messages::premium_index(
        Market::Usdm,
        &rest("binance-usdm/rest/docs-premiumIndex.json"),
    )
    .unwrap();
    assert_eq!(
        (
            premium.mark_price.to_string(),
            premium.index_price.unwrap().to_string(),
            premium.funding_rate.unwrap().to_string(),
            premium.next_funding_time_ms
        ),
        (
            "11793.63104562".to_owned(),
            "11781.80495970".to_owned(),
            "0.00038246".to_owned(),
            Some(1_597_392_000_000)
        )
    );
    let history = binance::messages::funding_rates(
        Market::Usdm,
        &rest("binance-usdm/rest/docs-fundingRate.json"),
    )
    .unwrap();
    assert_eq!(
        history
            .iter()
            .map(|f| (f.rate.to_string(), f.funding_time_ms))
            .collect::<Vec<_>>(),
        [
            ("-0.03750000".to_owned(), 1_570_608_000_000),
            ("0.00010000".to_owned(), 1_570_636_800_000)
        ]
    );
    let bybit_history = by::messages::funding_rates(
        Market::Linear,
        Symbol::new("ETHPERP"),
        &rest("bybit-linear/rest/docs-funding-history.json"),
    )
    .unwrap();
    assert_eq!(
        (
            bybit_history[0].rate.to_string(),
            bybit_history[0].funding_time_ms
        ),
        ("0.0001".to_owned(), 1_672_041_600_000)
    );
    // The latest entry, one side (`singleOpenInterest`), as Binance counts.
    let oi = by::messages::open_interest(
        Market::Linear,
        Symbol::new("BTCUSD"),
        &rest("bybit-linear/rest/docs-open-interest.json"),
    )
    .unwrap();
    assert_eq!(
        (oi.open_interest.to_string(), oi.exchange_time_ms),
        ("31955346".to_owned(), 1_780_963_200_000)
    );
}

#[test]
fn recorded_open_interest_reads_exactly() {
    let answer = rest("binance-usdm/rest/cmp-2022-openInterest.json");
    let oi =
        tradewire_core::venue::binance::messages::open_interest(Market::Usdm, &answer).unwrap();
    assert_eq!(
        (
            oi.symbol.as_str(),
            oi.open_interest.to_string(),
            oi.exchange_time_ms
        ),
        ("BTCUSDT", "84617.188".to_owned(), 1_654_336_844_754)
    );
}

#[test]
fn rest_aggregated_trades_read_exactly() {
    use tradewire_core::model::{Side, Symbol};
    use tradewire_core::venue::Adapter;
    let adapter = tradewire_core::venue::binance::adapter::Adapter;
    for (market, path) in [
        (
            Market::Spot,
            "binance-spot/rest/nt-2021-10-aggTrades-BTCUSDT.json",
        ),
        (Market::Usdm, "binance-usdm/rest/docs-aggTrades.json"),
    ] {
        let answer = rest(path);
        let symbol = Symbol::from_wire("BTCUSDT").unwrap();
        let trades = adapter.agg_trades_of(market, symbol, &answer).unwrap();
        let raw = answer.as_array().unwrap();
        assert_eq!(trades.len(), raw.len(), "{path}");
        for (t, raw) in trades.iter().zip(raw) {
            assert_eq!(Some(t.agg_id), raw["a"].as_u64());
            assert_eq!(
                (t.first_trade_id, t.last_trade_id),
                (raw["f"].as_u64(), raw["l"].as_u64())
            );
            assert_eq!(t.price.to_string(), s(raw, "p"));
            assert_eq!(t.qty.to_string(), s(raw, "q"));
            assert_eq!(Some(t.exchange_time_ms), raw["T"].as_i64());
            // The buyer was the maker: the aggressor sold.
            let sold = raw["m"].as_bool().unwrap();
            assert_eq!(t.side, if sold { Side::Sell } else { Side::Buy });
        }
    }
}

#[test]
fn recorded_rest_candles_read_exactly_oldest_first() {
    use tradewire_core::model::{Interval, Symbol};
    use tradewire_core::venue::{binance, bybit as by};
    let btc = Symbol::new("BTCUSDT");
    let answer = rest("binance-spot/rest/nt-2021-10-klines-BTCUSDT-1m.json");
    let klines = binance::messages::klines(Market::Spot, btc, Interval::M1, &answer).unwrap();
    let rows = answer.as_array().unwrap();
    assert_eq!(klines.len(), rows.len());
    for (k, row) in klines.iter().zip(rows) {
        let text = |i: usize| row[i].as_str().unwrap().to_owned();
        let got = [
            k.open,
            k.high,
            k.low,
            k.close,
            k.volume,
            k.quote_volume,
            k.taker_buy_volume.unwrap(),
            k.taker_buy_quote_volume.unwrap(),
        ]
        .map(|d| d.to_string());
        assert_eq!(got, [1, 2, 3, 4, 5, 7, 9, 10].map(text));
        assert_eq!(
            (k.open_time_ms, k.close_time_ms, k.trades),
            (
                row[0].as_i64().unwrap(),
                row[6].as_i64().unwrap(),
                row[8].as_u64()
            )
        );
        assert_eq!(k.close_time_ms, Interval::M1.close_of(k.open_time_ms));
    }
    for (file, market) in [
        (
            "bybit-linear/rest/nt-2023-09-kline-BTCUSDT-D.json",
            Market::Linear,
        ),
        (
            "bybit-spot/rest/nt-2023-09-kline-BTCUSDT-D.json",
            Market::Spot,
        ),
    ] {
        let answer = rest(file);
        let klines = by::messages::klines(market, btc, Interval::D1, &answer).unwrap();
        // The venue lists newest first; ours are oldest first, each a day long.
        let mut rows: Vec<Value> = answer["result"]["list"].as_array().unwrap().clone();
        rows.reverse();
        assert_eq!(klines.len(), rows.len(), "{file}");
        for (k, row) in klines.iter().zip(&rows) {
            let text = |i: usize| row[i].as_str().unwrap().to_owned();
            let got =
                [k.open, k.high, k.low, k.close, k.volume, k.quote_volume].map(|d| d.to_string());
            assert_eq!(got, [1, 2, 3, 4, 5, 6].map(text), "{file}");
            assert_eq!(k.open_time_ms.to_string(), text(0), "{file}");
            assert_eq!(k.close_time_ms - k.open_time_ms, 86_399_999, "{file}");
            assert_eq!((k.trades, k.taker_buy_volume), (None, None));
        }
    }
}

#[test]
fn symbol_rules_read_from_every_recorded_listing() {
    use tradewire_core::venue::{binance, bybit as by};
    let spot = binance::messages::symbols(
        Market::Spot,
        &rest("binance-spot/rest/nt-2021-10-exchangeInfo-BTCUSDT.json"),
    )
    .unwrap();
    let btc = &spot[0];
    assert_eq!(
        (btc.symbol.as_str(), btc.base_asset.as_str(), btc.trading),
        ("BTCUSDT", "BTC", true)
    );
    assert_eq!(
        (btc.tick_size.to_string(), btc.step_size.to_string()),
        ("0.01000000".into(), "0.00001000".into())
    );
    assert_eq!((btc.price_precision, btc.qty_precision), (2, 5));
    assert_eq!(
        btc.min_notional.map(|d| d.to_string()),
        Some("10.00000000".into())
    );
    assert_eq!(btc.market_min_qty, None, "a zero minimum is no minimum");
    assert_eq!(
        btc.market_max_qty.map(|d| d.to_string()),
        Some("112.21108820".into())
    );
    assert!(btc.raw_filters.contains("ICEBERG_PARTS"));

    let usdm = binance::messages::symbols(
        Market::Usdm,
        &rest("binance-usdm/rest/nt-2022-02-exchangeInfo.json"),
    )
    .unwrap();
    assert_eq!(usdm.len(), 3);
    assert!(
        usdm.iter()
            .all(|s| !s.tick_size.is_zero() && !s.step_size.is_zero())
    );
    let notional = usdm[0].min_notional.map(|d| d.to_string());
    assert_eq!(notional, Some("10".into()), "USD-M spells it `notional`");
    assert_eq!(
        usdm[0].market_max_qty.map(|d| d.to_string()),
        Some("1000".into())
    );

    let linear = by::messages::symbols(
        Market::Linear,
        &rest("bybit-linear/rest/nt-2023-09-instruments-linear.json"),
    )
    .unwrap();
    let btc = linear
        .iter()
        .find(|s| s.symbol.as_str() == "BTCUSDT")
        .unwrap();
    assert_eq!(
        (btc.tick_size.to_string(), btc.step_size.to_string()),
        ("0.10".into(), "0.001".into())
    );
    assert_eq!(
        btc.market_max_qty.map(|d| d.to_string()),
        Some("500.000".into())
    );
    assert_eq!(btc.min_notional.map(|d| d.to_string()), Some("5".into()));
    let spot = by::messages::symbols(
        Market::Spot,
        &rest("bybit-spot/rest/nt-2023-09-instruments-spot.json"),
    )
    .unwrap();
    let btc = spot
        .iter()
        .find(|s| s.symbol.as_str() == "BTCUSDT")
        .unwrap();
    assert_eq!(
        (btc.step_size.to_string(), btc.min_qty.to_string()),
        ("0.000001".into(), "0.000048".into())
    );
    assert_eq!(btc.min_notional.map(|d| d.to_string()), Some("1".into()));
    let other = by::messages::symbols(
        Market::Spot,
        &rest("bybit-spot/rest/nt-instruments-spot.json"),
    )
    .unwrap();
    assert!(!other.is_empty());
}

#[test]
fn recorded_depth_snapshots_read_exactly() {
    use tradewire_core::venue::binance::messages::depth_snapshot;
    for path in [
        "binance-spot/rest/cmp-2022-depth-snapshot.json",
        "binance-spot/rest/nt-2021-10-depth-BTCUSDT.json",
        "binance-usdm/rest/cmp-2022-depth-snapshot.json",
    ] {
        let answer = rest(path);
        let snapshot = depth_snapshot(&answer).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            Some(snapshot.last_update_id),
            answer["lastUpdateId"].as_u64()
        );
        assert_eq!(snapshot.exchange_time_ms, answer["E"].as_i64(), "{path}");
        assert_eq!(ours(&snapshot.bids), exact(&answer["bids"]), "{path}");
        assert_eq!(ours(&snapshot.asks), exact(&answer["asks"]), "{path}");
        assert!(!snapshot.bids.is_empty(), "{path}");
    }
    let truncated = serde_json::json!({"lastUpdateId": 5, "bids": [["1.0"]], "asks": []});
    assert!(depth_snapshot(&truncated).is_err());
}
