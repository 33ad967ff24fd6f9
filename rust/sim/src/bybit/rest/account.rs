//! Bybit v5 REST account: the unified wallet, linear positions and leverage, and the coin,
//! API key and account metadata clients read before trading; the position object the private
//! stream reuses.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Answer, Fail, bad_symbol, fail, need, unknown};
use crate::bybit::{BybitState, Category, num};
use crate::exchange::{Exchange, Exit, Kind, Leg, Reject};
use crate::market::Market;

pub(super) fn wallet(st: &BybitState, account: usize, params: &HashMap<String, String>) -> Answer {
    if params.get("accountType").map(String::as_str) != Some("UNIFIED") {
        return Err(fail(
            10001,
            "params error: accountType only support UNIFIED",
        ));
    }
    let wanted: Option<Vec<&str>> = params.get("coin").map(|c| c.split(',').collect());
    let mut coins: std::collections::BTreeMap<String, (Decimal, Decimal)> = Default::default();
    let mut upnl = Decimal::ZERO;
    for market in [&st.spot, &st.linear] {
        let ex = market.lock();
        for (asset, b) in &ex.accounts[account].balances {
            let entry = coins.entry(asset.clone()).or_default();
            entry.0 += b.free + b.locked;
            entry.1 += b.locked;
        }
        if ex.kind == Kind::Perp {
            upnl += ex.total_unrealized(account);
        }
    }
    let list: Vec<Value> = coins
        .iter()
        .filter(|(c, (w, _))| wanted.as_ref().map_or(!w.is_zero(), |list| list.contains(&c.as_str())))
        .map(|(c, (w, locked))| {
            let pnl = if c == "USDT" { upnl } else { Decimal::ZERO };
            json!({"coin": c, "equity": num(w + pnl), "usdValue": num(*w), "walletBalance": num(*w), "locked": num(*locked),
                "availableToWithdraw": "", "availableToBorrow": "", "borrowAmount": "0", "accruedInterest": "0",
                "totalOrderIM": num(*locked), "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": num(pnl),
                "cumRealisedPnl": "0", "bonus": "0", "collateralSwitch": true, "marginCollateral": true, "spotBorrow": "0",
                "free": num(w - locked)})
        })
        .collect();
    let total: Decimal = coins.get("USDT").map_or(Decimal::ZERO, |c| c.0);
    Ok(
        json!({"list": [{"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0",
        "totalEquity": num(total + upnl), "totalWalletBalance": num(total), "totalMarginBalance": num(total + upnl),
        "totalAvailableBalance": num(total), "totalPerpUPL": num(upnl), "totalInitialMargin": "0",
        "totalMaintenanceMargin": "0", "coin": list}]}),
    )
}

pub(super) fn coin_info(st: &BybitState, account: usize) -> Answer {
    let ex = st.spot.lock();
    let rows: Vec<Value> = ex.accounts[account]
        .balances
        .keys()
        .map(|c| json!({"name": c, "coin": c, "remainAmount": "1000000", "chains": []}))
        .collect();
    Ok(json!({"rows": rows}))
}

pub(super) fn api_key_info(st: &BybitState, account: usize) -> Answer {
    let key = st.spot.lock().accounts[account].api_key.clone();
    Ok(
        json!({"id": "1", "note": "tradewire-sim", "apiKey": key, "readOnly": 0, "secret": "",
        "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": [],
            "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
        "ips": ["*"], "type": 1, "deadlineDay": -1, "expiredAt": "", "createdAt": "", "unified": 1, "uta": 1,
        "userID": 1000 + account, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
        "affiliateID": 0, "rsaPublicKey": "", "isMaster": true}),
    )
}

pub(super) fn account_info(st: &BybitState, account: usize, now: i64) -> Answer {
    let isolated = !st.market(Category::Linear).lock().accounts[account]
        .settings
        .isolated
        .is_empty();
    let mode = if isolated {
        "ISOLATED_MARGIN"
    } else {
        "REGULAR_MARGIN"
    };
    Ok(
        json!({"unifiedMarginStatus": 6, "marginMode": mode, "isMasterTrader": false,
        "spotHedgingStatus": "OFF", "updatedTime": now.to_string(), "dcpStatus": "OFF", "timeWindow": 10,
        "smpGroup": 0}),
    )
}

pub(super) fn positions(
    market: &Market,
    category: Category,
    acct: usize,
    symbol: Option<&str>,
    params: &HashMap<String, String>,
) -> Answer {
    if category != Category::Linear {
        return Err(fail(10001, "params error: category only support linear"));
    }
    let ex = market.lock();
    if symbol.is_none() && params.get("settleCoin").is_none() {
        return Err(fail(
            10001,
            "params error: symbol or settleCoin is required",
        ));
    }
    if symbol.is_some_and(|s| unknown(&ex, s)) {
        return Err(bad_symbol(category));
    }
    let list: Vec<Value> = ex
        .symbols
        .keys()
        .filter(|s| symbol.is_none_or(|f| f == s.as_str()))
        .filter(|s| {
            symbol.is_some()
                || ex.accounts[acct]
                    .positions
                    .iter()
                    .any(|((name, _), p)| name == *s && !p.size.is_zero())
        })
        .flat_map(|s| positions_json(&ex, acct, s))
        .collect();
    Ok(json!({"category": "linear", "list": list, "nextPageCursor": ""}))
}

pub(super) fn set_leverage(
    market: &Market,
    account: usize,
    params: &HashMap<String, String>,
) -> Answer {
    let mut ex = market.lock();
    let name = need(params, "symbol")?.to_owned();
    let buy: Decimal = need(params, "buyLeverage")?
        .parse()
        .map_err(|_| fail(10001, "params error: buyLeverage"))?;
    if ex.accounts[account].leverage.get(&name) == Some(&buy) {
        return Err(fail(110043, "Set leverage has not been modified."));
    }
    ex.set_leverage(account, &name, buy)
        .map_err(|_| fail(10001, "params error: leverage invalid"))?;
    Ok(json!({}))
}

/// `POST /v5/position/trading-stop`, full mode: the position's own take-profit, stop-loss and
/// trailing stop (`trailingStop` with `activePrice`); a zero removes one. Partial mode is not
/// simulated (refused).
pub(super) fn trading_stop(
    market: &Market,
    category: Category,
    account: usize,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    if category == Category::Spot {
        return Err(fail(10001, "params error: category only support linear"));
    }
    let mut ex = market.lock();
    let symbol = need(params, "symbol")?.to_owned();
    if !ex.symbols.contains_key(&symbol) {
        return Err(bad_symbol(category));
    }
    match params.get("tpslMode").map(String::as_str) {
        Some("Full") => {}
        Some("Partial") => return Err(fail(10001, "params error: Partial mode is not simulated")),
        _ => return Err(fail(10001, "params error: tpslMode invalid")),
    }
    let hedge = ex.accounts[account].settings.hedge.contains(&symbol);
    let leg = match (params.get("positionIdx").map(String::as_str), hedge) {
        (None | Some("0"), false) => Leg::Both,
        (Some("1"), true) => Leg::Long,
        (Some("2"), true) => Leg::Short,
        _ => return Err(fail(10001, "position idx not match position mode")),
    };
    let exit = |price: &str, by: &str| -> Result<Option<Exit>, Fail> {
        let Some(text) = params.get(price).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let trigger: Decimal = text
            .parse()
            .ok()
            .filter(|t: &Decimal| !t.is_sign_negative())
            .ok_or_else(|| fail(10001, format!("params error: {price} invalid")))?;
        Ok(Some(Exit {
            trigger,
            by: super::orders::watch(params, by)?,
            limit: None,
        }))
    };
    let tp = exit("takeProfit", "tpTriggerBy")?;
    let sl = exit("stopLoss", "slTriggerBy")?;
    let trail = exit("trailingStop", "")?.map(|e| e.trigger);
    let active = exit("activePrice", "")?.map(|e| e.trigger);
    if tp.is_none() && sl.is_none() && trail.is_none() {
        return Err(fail(
            10001,
            "params error: takeProfit, stopLoss or trailingStop is required",
        ));
    }
    let now_set = ex.position_exits(account, &symbol, leg);
    let same = |new: Option<Decimal>, old: Option<Decimal>| {
        new.is_none_or(|e| old.unwrap_or(Decimal::ZERO) == e)
    };
    if same(tp.map(|e| e.trigger), now_set.0)
        && same(sl.map(|e| e.trigger), now_set.1)
        && same(trail, ex.position_trail(account, &symbol, leg))
    {
        return Err(fail(34040, "not modified"));
    }
    let refused = |r| super::orders::reject(r, false);
    if tp.is_some() || sl.is_some() {
        ex.set_position_exits(account, &symbol, leg, tp, sl, now)
            .map_err(refused)?;
    }
    if let Some(distance) = trail {
        ex.set_position_trail(account, &symbol, leg, distance, active, now)
            .map_err(refused)?;
    }
    Ok(json!({}))
}

/// `POST /v5/position/switch-mode`: hedge (`mode` 3) or one-way (0), for one symbol, or for
/// every symbol of a settle coin that has no position or open order.
pub(super) fn switch_mode(
    market: &Market,
    account: usize,
    params: &HashMap<String, String>,
) -> Answer {
    let mut ex = market.lock();
    let hedge = match need(params, "mode")? {
        "0" => false,
        "3" => true,
        _ => return Err(fail(10001, "params error: mode invalid")),
    };
    if let Some(symbol) = params.get("symbol").filter(|s| !s.is_empty()) {
        if unknown(&ex, symbol) {
            return Err(fail(10001, "params error: symbol invalid"));
        }
        return match ex.set_hedge(account, std::slice::from_ref(symbol), hedge) {
            Ok(()) => Ok(json!({})),
            Err(Reject::NoChange) => Err(fail(110025, "Position mode has not been modified.")),
            Err(Reject::Busy { position: true }) => Err(fail(
                110024,
                "You have an existing position, so the position mode cannot be switched.",
            )),
            Err(_) => Err(fail(
                110028,
                "You have existing open orders, so the position mode cannot be switched.",
            )),
        };
    }
    let coin = need(params, "coin")?.to_owned();
    let symbols: Vec<String> = ex
        .symbols
        .values()
        .filter(|s| s.spec.quote == coin)
        .map(|s| s.spec.name.clone())
        .collect();
    if symbols.is_empty() {
        return Err(fail(10001, "params error: coin invalid"));
    }
    // By coin: the symbols free to switch are switched, the others stay as they are.
    for s in symbols {
        let _ = ex.set_hedge(account, &[s], hedge);
    }
    Ok(json!({}))
}

/// `POST /v5/account/set-margin-mode`: isolated or regular (cross) margin, for the whole
/// account (every linear symbol). Refused while a position or an order is open.
pub(super) fn set_margin_mode(
    st: &BybitState,
    account: usize,
    params: &HashMap<String, String>,
) -> Answer {
    let isolated = match need(params, "setMarginMode")? {
        "ISOLATED_MARGIN" => true,
        "REGULAR_MARGIN" => false,
        "PORTFOLIO_MARGIN" => {
            return Err(failed_margin_mode(
                "portfolio margin is not offered by this account",
            ));
        }
        _ => return Err(fail(10001, "params error: setMarginMode invalid")),
    };
    let mut ex = st.market(Category::Linear).lock();
    let all: Vec<String> = ex.symbols.keys().cloned().collect();
    match ex.set_isolated(account, &all, isolated) {
        Ok(()) | Err(Reject::NoChange) => Ok(json!({"reasons": []})),
        Err(_) => Err(failed_margin_mode("there are open positions or orders")),
    }
}

fn failed_margin_mode(why: &str) -> Fail {
    let mut f = fail(3400045, "Set margin mode failed");
    f.result = Some(json!({"reasons": [{"reasonCode": "3400045", "reasonMsg": why}]}));
    f
}

/// A symbol's positions as the venue lists them: one (`positionIdx` 0) in one-way mode, a Buy
/// and a Sell leg (1, 2) in hedge mode.
pub fn positions_json(ex: &Exchange, account: usize, symbol: &str) -> Vec<Value> {
    ex.legs(account, symbol)
        .iter()
        .map(|leg| position_json(ex, account, symbol, *leg))
        .collect()
}

fn position_json(ex: &Exchange, account: usize, symbol: &str, leg: Leg) -> Value {
    let p = ex.position(account, symbol, leg);
    let leverage = ex.leverage(account, symbol);
    let mark = ex.mark(symbol);
    let side = if p.size.is_zero() {
        ""
    } else if p.size.is_sign_positive() {
        "Buy"
    } else {
        "Sell"
    };
    let value = p.size.abs() * p.entry;
    let (take_profit, stop_loss) = ex.position_exits(account, symbol, leg);
    let trailing = ex.position_trail(account, symbol, leg);
    let exit = |e: Option<Decimal>| num(e.unwrap_or(Decimal::ZERO));
    json!({"positionIdx": leg.idx(), "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol, "side": side,
        "size": num(p.size.abs()), "avgPrice": num(p.entry), "entryPrice": num(p.entry), "positionValue": num(value), "tradeMode": 0,
        "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": if p.size.is_zero() { 0 } else { 2 },
        "leverage": num(leverage), "positionBalance": num(value / leverage), "markPrice": num(mark), "liqPrice": "",
        "bustPrice": "", "positionMM": num(value * Decimal::new(5, 3)), "positionIM": num(value / leverage), "tpslMode": "Full", "takeProfit": exit(take_profit),
        "stopLoss": exit(stop_loss), "trailingStop": exit(trailing), "unrealisedPnl": num(ex.unrealized(account, symbol, leg)),
        "curRealisedPnl": num(p.realized), "cumRealisedPnl": num(p.realized), "seq": p.updated_ms, "isReduceOnly": false,
        "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": p.updated_ms.to_string(),
        "updatedTime": p.updated_ms.to_string(), "breakEvenPrice": num(p.entry), "category": "linear"})
}
