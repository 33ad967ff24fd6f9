//! Recorded order and account answers (tests/fixtures/real/*/rest) read into orders, fills,
//! balances and positions with every field and digit as the venue sent it.

use std::path::PathBuf;

use serde_json::Value;
use tradewire_core::model::{Market, Order, OrderStatus, OrderType, PositionSide, Side};
use tradewire_core::venue::binance::orders::BinanceTrading;
use tradewire_core::venue::bybit::orders::BybitTrading;
use tradewire_core::venue::{Trading, Written};

fn fixture(path: &str) -> Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/real")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap()
}

const SPOT: BinanceTrading = BinanceTrading {
    market: Market::Spot,
};
const USDM: BinanceTrading = BinanceTrading {
    market: Market::Usdm,
};
const LINEAR: BybitTrading = BybitTrading {
    market: Market::Linear,
};

fn order_of(written: Written) -> (Order, usize) {
    match written {
        Written::Order(order, fills) => (order, fills.len()),
        Written::Ack { .. } => panic!("a Binance answer carries the order"),
    }
}

fn text(d: Option<rust_decimal::Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

#[test]
fn binance_spot_order_answers() {
    // case: FULL answer of a market sell with five fills
    let answer = fixture("binance-spot/rest/docs-order-full.json");
    let Written::Order(order, fills) = SPOT.placed(&answer).unwrap() else {
        panic!("FULL carries the order");
    };
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(
        (order.side, order.order_type),
        (Side::Sell, OrderType::Market)
    );
    assert_eq!(order.order_id.as_str(), "28");
    assert_eq!(order.client_order_id.as_str(), "6gCrw2kRUAF9CvJDGP16IP");
    assert_eq!(order.filled_qty.to_string(), "10.00000000");
    assert_eq!(order.price, None, "a market order's 0 price is no price");
    let raw = answer["fills"].as_array().unwrap();
    assert_eq!(fills.len(), raw.len());
    for (fill, raw) in fills.iter().zip(raw) {
        assert_eq!(fill.price.to_string(), raw["price"].as_str().unwrap());
        assert_eq!(fill.qty.to_string(), raw["qty"].as_str().unwrap());
        assert_eq!(fill.fee.to_string(), raw["commission"].as_str().unwrap());
        assert_eq!(fill.trade_id.as_str(), raw["tradeId"].to_string());
    }
    // case: a cancel names the order's id `origClientOrderId` and its own `clientOrderId`
    let (canceled, _) = order_of(
        SPOT.canceled(&fixture("binance-spot/rest/docs-cancel-order.json"))
            .unwrap(),
    );
    assert_eq!(canceled.client_order_id.as_str(), "myOrder1");
    assert_eq!(canceled.status, OrderStatus::Canceled);
    assert_eq!(text(canceled.price).as_deref(), Some("2.00000000"));
    // case: 2018 answers without `time` or `workingTime`
    for name in [
        "nbt-2018-order-limit-new.json",
        "nbt-2018-order-market-full.json",
        "nbt-2018-order-market-full-2.json",
    ] {
        let answer = fixture(&format!("binance-spot/rest/{name}"));
        let (order, fills) = order_of(SPOT.placed(&answer).unwrap());
        assert_eq!(fills, answer["fills"].as_array().unwrap().len(), "{name}");
        assert_eq!(
            order.filled_qty.to_string(),
            answer["executedQty"].as_str().unwrap()
        );
    }
    for name in ["docs-query-order.json", "nbt-2018-query-order.json"] {
        let order = SPOT
            .queried(&fixture(&format!("binance-spot/rest/{name}")))
            .unwrap()
            .unwrap();
        assert!(!order.client_order_id.is_empty(), "{name}");
    }
    let listed = fixture("binance-spot/rest/docs-open-orders.json");
    let (orders, next) = SPOT.orders_of(&listed).unwrap();
    assert_eq!(
        (orders.len(), next),
        (listed.as_array().unwrap().len(), None)
    );
}

#[test]
fn binance_spot_and_usdm_account_answers() {
    let account = fixture("binance-spot/rest/docs-account.json");
    let balances = SPOT.balances_of(&account, 0).unwrap();
    let raw = account["balances"].as_array().unwrap();
    assert_eq!(balances.len(), raw.len());
    for (b, raw) in balances.iter().zip(raw) {
        assert_eq!(b.free.to_string(), raw["free"].as_str().unwrap());
        assert_eq!(b.locked.to_string(), raw["locked"].as_str().unwrap());
    }
    let balance = USDM
        .balances_of(&fixture("binance-usdm/rest/docs-balance.json"), 0)
        .unwrap();
    assert_eq!(balance[0].asset, "USDT");
    assert_eq!(balance[0].free.to_string(), "122.12345678");
    assert!(balance[0].locked.is_zero());
    let positions = USDM
        .positions_of(&fixture("binance-usdm/rest/docs-position-risk.json"), None)
        .unwrap();
    let p = &positions[0];
    assert_eq!(
        (p.side, p.size.to_string()),
        (PositionSide::Long, "0.001".into())
    );
    assert_eq!(p.entry_price.to_string(), "50000.0");
    assert_eq!(p.leverage.to_string(), "20");
    assert_eq!(text(p.liquidation_price).as_deref(), Some("45000.0"));
    let (order, _) = order_of(
        USDM.placed(&fixture("binance-usdm/rest/docs-order-response.json"))
            .unwrap(),
    );
    assert_eq!(order.status, OrderStatus::New);
    assert_eq!(order.avg_price, None, "nothing filled, no average");
    assert_eq!(text(order.qty).as_deref(), Some("0.001"));
}

#[test]
fn bybit_linear_answers() {
    let listed = fixture("bybit-linear/rest/nt-orders-realtime.json");
    let (orders, _) = LINEAR.orders_of(&listed).unwrap();
    let raw = listed["result"]["list"].as_array().unwrap();
    assert_eq!(orders.len(), raw.len());
    for (o, raw) in orders.iter().zip(raw) {
        assert_eq!(
            o.client_order_id.as_str(),
            raw["orderLinkId"].as_str().unwrap()
        );
        assert_eq!(text(o.price).as_deref(), raw["price"].as_str());
        assert_eq!(text(o.qty).as_deref(), raw["qty"].as_str());
        assert_eq!(o.avg_price, None, "`avgPrice: null` is no price");
    }
    let positions = LINEAR
        .positions_of(&fixture("bybit-linear/rest/nt-positions.json"), None)
        .unwrap();
    assert_eq!(positions[0].side, PositionSide::Long);
    assert_eq!(positions[0].size.to_string(), "0.5");
    assert_eq!(positions[1].side, PositionSide::Short);
    assert_eq!(
        text(positions[0].liquidation_price).as_deref(),
        Some("45000.00")
    );
    let wallet = fixture("bybit-linear/rest/docs-wallet-balance.json");
    let balances = LINEAR.balances_of(&wallet, 0).unwrap();
    let usdt = balances.iter().find(|b| b.asset == "USDT").unwrap();
    assert_eq!(usdt.free.to_string(), "1000.50");
    assert_eq!(
        balances.len(),
        wallet["result"]["list"][0]["coin"]
            .as_array()
            .unwrap()
            .len()
    );
}

#[test]
fn recorded_trade_lists_read_into_fills_exactly() {
    // Spot `myTrades` (2018) names the side by `isBuyer`; USD-M `userTrades` (2022) by `side`.
    for (trading, path) in [
        (SPOT, "binance-spot/rest/nbt-2018-myTrades.json"),
        (USDM, "binance-usdm/rest/nt-2022-02-userTrades-ETHUSDT.json"),
    ] {
        let answer = fixture(path);
        let (fills, next) = trading.fills_of(&answer).unwrap();
        let raw = answer.as_array().unwrap();
        assert_eq!((fills.len(), next), (raw.len(), None), "{path}");
        for (fill, raw) in fills.iter().zip(raw) {
            assert_eq!(fill.symbol.as_str(), raw["symbol"].as_str().unwrap());
            assert_eq!(fill.trade_id.as_str(), raw["id"].to_string());
            assert_eq!(fill.order_id.as_str(), raw["orderId"].to_string());
            assert_eq!(fill.price.to_string(), raw["price"].as_str().unwrap());
            assert_eq!(fill.qty.to_string(), raw["qty"].as_str().unwrap());
            assert_eq!(fill.fee.to_string(), raw["commission"].as_str().unwrap());
            assert_eq!(fill.fee_asset, raw["commissionAsset"].as_str().unwrap());
            assert_eq!(Some(fill.exchange_time_ms), raw["time"].as_i64());
            let buyer = raw
                .get("isBuyer")
                .or(raw.get("buyer"))
                .and_then(Value::as_bool);
            let side = raw.get("side").and_then(Value::as_str);
            assert!(
                buyer == Some(fill.side == Side::Buy) || side == Some(&fill.side.to_string()),
                "{path}: {raw}"
            );
            let maker = raw
                .get("isMaker")
                .or(raw.get("maker"))
                .and_then(Value::as_bool);
            assert_eq!(Some(fill.is_maker), maker);
            assert!(fill.client_order_id.is_empty(), "Binance's list names none");
        }
    }
}

#[test]
fn documented_order_histories_read() {
    // USD-M `allOrders`: a trailing stop of a hedge-mode SHORT leg.
    let (orders, _) = USDM
        .orders_of(&fixture("binance-usdm/rest/docs-allOrders.json"))
        .unwrap();
    let [order] = orders.as_slice() else {
        panic!("one order: {orders:?}");
    };
    assert_eq!(order.order_id.as_str(), "1917641");
    assert_eq!(order.client_order_id.as_str(), "abc");
    assert_eq!(order.position_side, Some(PositionSide::Short));
    assert_eq!(text(order.qty).as_deref(), Some("0.40"));
    assert_eq!(order.created_time_ms, 1_579_276_756_075);
    let trigger = order.trigger.as_ref().expect("a trailing stop's trigger");
    assert_eq!(
        (
            trigger.price.to_string(),
            trigger.trailing.map(|r| r.to_string())
        ),
        ("9020".into(), Some("0.3".into())),
        "a trailing stop is armed at its activation price"
    );
    // Bybit `order/history`: a canceled limit order, and the cursor's empty end.
    let (orders, next) = LINEAR
        .orders_of(&fixture("bybit-linear/rest/docs-order-history.json"))
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, OrderStatus::Canceled);
    assert_eq!(orders[0].client_order_id.as_str(), "client-1");
    assert_eq!(text(orders[0].price).as_deref(), Some("30000"));
    assert_eq!(orders[0].created_time_ms, 1_700_000_000_000);
    assert_eq!(next, None, "an empty cursor is the last page");
    // Bybit `execution/list`: a fill and a funding charge, which is no fill.
    let (fills, _) = LINEAR
        .fills_of(&fixture(
            "bybit-linear/rest/docs-execution-list-funding.json",
        ))
        .unwrap();
    let [fill] = fills.as_slice() else {
        panic!("the trade alone: {fills:?}");
    };
    assert_eq!(
        fill.trade_id.as_str(),
        "bf13bd10-fe15-4ad4-a6bf-c388e3104f75"
    );
    assert_eq!(fill.client_order_id.as_str(), "test-order-001");
    assert_eq!(
        (
            fill.price.to_string(),
            fill.qty.to_string(),
            fill.fee.to_string()
        ),
        ("80800.00".into(), "0.093".into(), "0.0150".into())
    );
    assert!(fill.is_maker);
    assert_eq!(fill.exchange_time_ms, 1_788_486_858_000);
}
