//! Binance REST conventions (spot `/api/v3`, USD-M `/fapi`): request weights, the limits
//! exchangeInfo announces (`REQUEST_WEIGHT`, `ORDERS`, `RAW_REQUESTS`, fixed windows on the
//! venue clock), `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers, 429 / 418 with
//! Retry-After, and the error codes mapped onto [`Error`] (PROTOCOLS.md 2.1, 3.1, 3.3, 8.2).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::sign::signed_query;
use crate::Error;
use crate::error::{VenueReply, snippet};
use crate::model::{Market, Venue};
use crate::net::http::{Dialect, Encoded, Failure, Method, Request};
use crate::resilience::{
    LimitId, LimitSpec, Limiter, MAX_BAN, MAX_RETRY_AFTER, UNSAID_BAN, WindowKind, capped_until,
};
use crate::venue::Credentials;

#[derive(Debug, Clone, Copy)]
pub struct BinanceRest {
    pub market: Market,
}

impl BinanceRest {
    pub fn new(market: Market) -> BinanceRest {
        BinanceRest { market }
    }

    fn spot(&self) -> bool {
        self.market == Market::Spot
    }

    fn prefix(&self) -> &'static str {
        if self.spot() { "/api/v3" } else { "/fapi/v1" }
    }

    /// The limits until exchangeInfo is read (the venues' documented defaults).
    pub fn default_limits(&self) -> Vec<LimitSpec> {
        let fixed =
            |kind: &str, num: u64, unit: Duration, limit: u64| limit_spec(kind, num, unit, limit);
        let (s, m, d) = (
            Duration::from_secs(1),
            Duration::from_secs(60),
            Duration::from_secs(86_400),
        );
        if self.spot() {
            vec![
                fixed("REQUEST_WEIGHT", 1, m, 6000),
                fixed("ORDERS", 10, s, 50),
                fixed("ORDERS", 1, d, 160_000),
                fixed("RAW_REQUESTS", 5, m, 61_000),
            ]
        } else {
            vec![
                fixed("REQUEST_WEIGHT", 1, m, 2400),
                fixed("ORDERS", 10, s, 300),
                fixed("ORDERS", 1, m, 1200),
            ]
        }
    }

    /// The limits of an exchangeInfo answer's `rateLimits`.
    pub fn limits_of(exchange_info: &Value) -> Vec<LimitSpec> {
        let Some(limits) = exchange_info.get("rateLimits").and_then(Value::as_array) else {
            return Vec::new();
        };
        limits
            .iter()
            .filter_map(|l| {
                let kind = l.get("rateLimitType")?.as_str()?;
                let unit = match l.get("interval")?.as_str()? {
                    "SECOND" => Duration::from_secs(1),
                    "MINUTE" => Duration::from_secs(60),
                    "HOUR" => Duration::from_secs(3600),
                    "DAY" => Duration::from_secs(86_400),
                    _ => return None,
                };
                let num = l.get("intervalNum")?.as_u64()?;
                let limit = l.get("limit")?.as_u64()?;
                Some(limit_spec(kind, num, unit, limit))
            })
            .collect()
    }

    /// The request's weight (PROTOCOLS.md 3.1, 3.3); unknown paths are weighed cautiously.
    /// The WebSocket API's requests weigh in the same table ([`WS_API_REQUEST`]).
    fn weight(&self, request: &Request) -> u64 {
        let path = request.path.rsplit_once('/').map_or("", |(_, p)| p);
        let with_symbol = request.param_value("symbol").is_some();
        let limit: u64 = request
            .param_value("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(if self.spot() { 100 } else { 500 });
        match (self.spot(), request.method, path) {
            (_, _, "time" | "ping") => 1,
            (true, _, "userDataStream.subscribe.signature" | "connect") => 2,
            (false, _, "connect") => 5,
            (true, _, "exchangeInfo") => 20,
            (false, _, "exchangeInfo") => 1,
            (true, _, "depth") => match limit {
                0..=100 => 5,
                101..=500 => 25,
                501..=1000 => 50,
                _ => 250,
            },
            (false, _, "depth") => match limit {
                0..=50 => 2,
                51..=100 => 5,
                101..=500 => 10,
                _ => 20,
            },
            (false, _, "premiumIndex") if with_symbol => 1,
            (false, _, "premiumIndex") => 10,
            (false, _, "openInterest") => 1,
            // It has its own 500 requests / 5 min (shared with fundingInfo) besides the weight.
            (false, _, "fundingRate") => 1,
            (true, _, "klines") => 2,
            (false, _, "klines") => match limit {
                0..=99 => 1,
                100..=499 => 2,
                500..=1000 => 5,
                _ => 10,
            },
            (true, Method::Post, "order" | "cancelReplace" | "oco") => 1,
            (true, Method::Put, "keepPriority") => 4,
            (false, Method::Post | Method::Put, "order") => 0,
            // The algo service (USD-M conditional orders).
            (false, Method::Post, "algoOrder") => 0,
            (false, Method::Get | Method::Delete, "algoOrder") | (false, _, "algoOpenOrders") => 1,
            (false, _, "openAlgoOrders") => {
                if with_symbol {
                    1
                } else {
                    40
                }
            }
            (false, Method::Post | Method::Put, "batchOrders") => 5,
            (false, Method::Delete, "batchOrders") => 1,
            (_, Method::Delete, "order") => 1,
            (true, Method::Get, "order") => 4,
            (false, Method::Get, "order" | "openOrder") => 1,
            (true, _, "openOrders") => {
                if with_symbol {
                    6
                } else {
                    80
                }
            }
            (false, _, "openOrders") => {
                if with_symbol {
                    1
                } else {
                    40
                }
            }
            (true, _, "account") => 20,
            (false, _, "account" | "balance" | "positionRisk" | "symbolConfig") => 5,
            (true, _, "myTrades" | "allOrders") => 20,
            (true, _, "aggTrades") => 4,
            (false, _, "aggTrades") => 20,
            (false, _, "userTrades" | "allOrders") => 5,
            (_, _, "listenKey") => 1,
            (_, _, "trades") => {
                if self.spot() {
                    25
                } else {
                    5
                }
            }
            (_, _, "bookTicker") => {
                if with_symbol {
                    2
                } else {
                    5
                }
            }
            (_, _, "24hr") => {
                if with_symbol {
                    2
                } else {
                    80
                }
            }
            _ => 10,
        }
    }

    /// What counts against the order-count limits: a new order (a cancel-replace's and a
    /// conditional one's included) and a USD-M modify; spot's keep-priority amend counts none.
    fn is_order_placement(&self, request: &Request) -> bool {
        let placing = matches!(request.method, Method::Post | Method::Put);
        (placing && (request.path.ends_with("/order") || request.path.ends_with("/batchOrders")))
            || request.path.ends_with("/order/cancelReplace")
            || (request.method == Method::Post
                && (request.path.ends_with("/algoOrder")
                    || request.path.ends_with("/orderList/oco")))
    }
}

/// `REQUEST_WEIGHT 1M`: the type and the window as the usage headers spell it.
/// What connecting to the WebSocket API and its user-stream subscription each weigh as: the
/// API shares the IP's request weight with REST (PROTOCOLS.md 3.2).
pub const WS_API_REQUEST: &str = "ws-api/userDataStream.subscribe.signature";
/// What a WebSocket API handshake weighs as (spot 2, USD-M 5).
pub const WS_API_CONNECT: &str = "ws-api/connect";

fn limit_spec(kind: &str, num: u64, unit: Duration, limit: u64) -> LimitSpec {
    let letter = match unit.as_secs() {
        1 => 'S',
        60 => 'M',
        3600 => 'H',
        _ => 'D',
    };
    LimitSpec {
        name: format!("{kind} {num}{letter}"),
        kind: WindowKind::Fixed,
        length: unit * num as u32,
        limit,
    }
}

/// The rule a refused order broke: a refusal every venue has by its shared name
/// ([`crate::orders::rule`]), else the venue's code. `-2010` (NEW_ORDER_REJECTED) is told
/// apart by its text.
fn order_rule(code: i64, message: &str) -> String {
    use crate::orders::rule;
    let text = message.to_ascii_lowercase();
    match code {
        -2018 | -2019 => rule::INSUFFICIENT_FUNDS,
        -2010 if text.contains("insufficient balance") => rule::INSUFFICIENT_FUNDS,
        -2010 if text.contains("would immediately match") => rule::POST_ONLY_WOULD_TAKE,
        -2010 if text.contains("would trigger immediately") => rule::TRIGGER_PRICE,
        -2010 if text.contains("relationship of the prices") => rule::OCO_PRICES,
        -2021 => rule::TRIGGER_PRICE,
        -5022 => rule::POST_ONLY_WOULD_TAKE,
        -2038 if text.contains("quantity increase") => rule::AMEND_INCREASE,
        -2038 if text.contains("would change no state") => rule::NO_CHANGE,
        -5027 => rule::NO_CHANGE,
        -2022 => rule::REDUCE_ONLY,
        _ => return code.to_string(),
    }
    .to_owned()
}

/// The typed error of a refusal by its code (a whole answer's, or one item's of a batch).
pub(super) fn refusal(reply: VenueReply) -> Error {
    match reply.code {
        Some(-1022 | -2014 | -2015 | -2008) => Error::Auth(reply),
        Some(-1015) => Error::RateLimited {
            reply,
            retry_after: None,
        },
        Some(-2011 | -2013) => Error::OrderNotFound(reply),
        Some(
            code @ (-2010 | -1013 | -1111 | -1112 | -1116 | -1117 | -1121 | -4164 | -2018 | -2019
            | -2021 | -2022 | -5022 | -4003 | -4014 | -4015 | -2038 | -5027 | -4028 | -4123),
        ) => Error::InvalidOrder {
            rule: order_rule(code, &reply.message),
            message: reply.message.clone(),
            reply: Some(reply),
        },
        _ => Error::Exchange(reply),
    }
}

/// A cancel-replace that failed in part or whole (`-2021`, `-2022`) names the part that failed
/// in its `data`: that part's code, and a message saying what happened to the other.
fn compound_failure(body: &Value) -> Option<(i64, String)> {
    let data = body.get("data")?;
    let part = |name: &str| {
        let r = data.get(name)?;
        Some((r.get("code")?.as_i64()?, r.get("msg")?.as_str()?.to_owned()))
    };
    if data.get("cancelResult").and_then(Value::as_str) == Some("FAILURE") {
        let (code, msg) = part("cancelResponse")?;
        let placed = data.get("newOrderResult").and_then(Value::as_str) == Some("SUCCESS");
        let then = if placed {
            "the new order was placed"
        } else {
            "nothing was placed"
        };
        return Some((
            code,
            snippet(&format!(
                "cancel-replace: the cancel failed ({msg}); {then}"
            )),
        ));
    }
    let (code, msg) = part("newOrderResponse")?;
    Some((
        code,
        snippet(&format!(
            "cancel-replace: the order was canceled but the new one was refused: {msg}"
        )),
    ))
}

fn reply(status: u16, body: &Value, fallback: &str) -> VenueReply {
    VenueReply {
        venue: Venue::Binance,
        code: body.get("code").and_then(Value::as_i64),
        message: snippet(body.get("msg").and_then(Value::as_str).unwrap_or(fallback)),
        http_status: Some(status),
        request: None,
    }
}

/// A ban's end: the Retry-After header, else the "banned until <ms>" of the message; never
/// more than [`MAX_BAN`] (the docs' longest, 3 days) from now.
fn ban_end(headers: &HeaderMap, message: &str, now_ms: i64) -> i64 {
    let until = retry_after_ms(headers)
        .map(|ms| now_ms.saturating_add(ms))
        .or_else(|| banned_until_in(message))
        .unwrap_or(now_ms.saturating_add(UNSAID_BAN.as_millis() as i64));
    capped_until(now_ms, until, MAX_BAN)
}

/// The `<ms>` of a -1003 message's "IP banned until <ms>".
pub fn banned_until_in(message: &str) -> Option<i64> {
    let (_, rest) = message.split_once("banned until ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Retry-After (seconds) in ms, at most [`MAX_BAN`]: huge values neither overflow nor count.
fn retry_after_ms(headers: &HeaderMap) -> Option<i64> {
    let secs: i64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(secs.clamp(0, MAX_BAN.as_secs() as i64) * 1000)
}

impl Dialect for BinanceRest {
    fn venue(&self) -> Venue {
        Venue::Binance
    }

    fn time_request(&self) -> Request {
        Request::get(&format!("{}/time", self.prefix()))
    }

    fn server_time(&self, body: &Value) -> Option<i64> {
        body.get("serverTime")?.as_i64()
    }

    fn costs(&self, limiter: &Limiter, request: &Request) -> Vec<(LimitId, u64)> {
        let weight = self.weight(request);
        let mut costs: Vec<(LimitId, u64)> = Vec::new();
        if weight > 0 {
            costs.extend(
                limiter
                    .ids_with_prefix("REQUEST_WEIGHT ")
                    .into_iter()
                    .map(|id| (id, weight)),
            );
        }
        costs.extend(
            limiter
                .ids_with_prefix("RAW_REQUESTS ")
                .into_iter()
                .map(|id| (id, 1)),
        );
        if self.is_order_placement(request) {
            // A USD-M batch of orders counts 5 on the seconds window (10 s as published), 1 on
            // the longer ones.
            // An OCO counts its two orders on every window.
            let batch = request.path.ends_with("/batchOrders");
            let pair = if request.path.ends_with("/orderList/oco") {
                2
            } else {
                1
            };
            let seconds = limiter.ids_named(|n| n.starts_with("ORDERS ") && n.ends_with('S'));
            costs.extend(limiter.ids_with_prefix("ORDERS ").into_iter().map(|id| {
                (
                    id,
                    if batch && seconds.contains(&id) {
                        5
                    } else {
                        pair
                    },
                )
            }));
        }
        costs
    }

    fn encode(
        &self,
        request: &Request,
        credentials: Option<&Credentials>,
        now_ms: i64,
        recv_window: Duration,
    ) -> Encoded {
        let mut headers = Vec::new();
        if let Some(c) = credentials {
            headers.push(("X-MBX-APIKEY", c.api_key().to_owned()));
        }
        let query = match (request.signed, credentials) {
            (true, Some(c)) => signed_query(c, &request.params, now_ms, recv_window),
            _ => serde_urlencoded::to_string(&request.params).unwrap_or_default(),
        };
        Encoded {
            query,
            headers,
            body: None,
        }
    }

    fn observe(&self, limiter: &Limiter, _request: &Request, headers: &HeaderMap) {
        for (name, value) in headers {
            let name = name.as_str();
            let (kind, window) = if let Some(w) = name.strip_prefix("x-mbx-used-weight-") {
                ("REQUEST_WEIGHT", w)
            } else if let Some(w) = name.strip_prefix("x-mbx-order-count-") {
                ("ORDERS", w)
            } else {
                continue;
            };
            // Parsed as u64 (a longer number is not a count); the limiter ignores absurd ones.
            let used = value.to_str().ok().and_then(|v| v.trim().parse().ok());
            let id = limiter.find(&format!("{kind} {}", window.to_ascii_uppercase()));
            if let (Some(id), Some(used)) = (id, used) {
                limiter.sync_used(id, used);
            }
        }
    }

    fn verdict(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        now_ms: i64,
    ) -> Result<Value, Box<Failure>> {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| {
                Failure::plain(Error::Protocol {
                    venue: Venue::Binance,
                    reason: format!("a {status} answer that is not JSON"),
                })
            });
        }
        let json = json.unwrap_or(Value::Null);
        let text = String::from_utf8_lossy(body);
        let reply = match compound_failure(&json) {
            Some((code, message)) => VenueReply {
                code: Some(code),
                message,
                ..reply(status, &json, text.trim())
            },
            None => reply(status, &json, text.trim()),
        };
        let mut failure = Failure::plain(Error::Exchange(reply.clone()));
        match (status, reply.code) {
            (418, _) => {
                let until = ban_end(headers, &reply.message, now_ms);
                failure.banned_until = Some(until);
                failure.error = Error::Banned {
                    reply,
                    until_ms: until,
                };
            }
            (429, _) => {
                let wait = retry_after_ms(headers)
                    .unwrap_or(1000)
                    .min(MAX_RETRY_AFTER.as_millis() as i64);
                failure.back_off_until = Some(now_ms.saturating_add(wait));
                failure.error = Error::RateLimited {
                    reply,
                    retry_after: Some(Duration::from_millis(wait as u64)),
                };
            }
            (500.., _) => failure.venue_fault = true,
            (_, Some(-1021)) => failure.clock_rejected = true,
            (401, _) => failure.error = Error::Auth(reply),
            _ => failure.error = refusal(reply),
        }
        Err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn exchange_info_limits_are_named_like_the_usage_headers() {
        let info = serde_json::json!({"rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000}]});
        let names: Vec<(String, Duration, u64)> = BinanceRest::limits_of(&info)
            .into_iter()
            .map(|l| (l.name, l.length, l.limit))
            .collect();
        assert_eq!(
            names,
            vec![
                ("REQUEST_WEIGHT 1M".into(), Duration::from_secs(60), 6000),
                ("ORDERS 10S".into(), Duration::from_secs(10), 50),
                ("ORDERS 1D".into(), Duration::from_secs(86_400), 160_000),
            ]
        );
    }

    #[test]
    fn a_batch_counts_five_on_the_seconds_order_window_and_one_on_longer_ones() {
        use crate::resilience::Limiter;
        let usdm = BinanceRest::new(Market::Usdm);
        // As published, and as the simulator publishes them scaled (a 1-second window).
        for seconds in [10, 1] {
            let limiter = Limiter::new(Venue::Binance, std::sync::Arc::new(|| 0), 0.0);
            limiter.replace_limits(vec![
                limit_spec("ORDERS", seconds, Duration::from_secs(1), 300),
                limit_spec("ORDERS", 1, Duration::from_secs(60), 1200),
            ]);
            let [short, long] = [
                limiter.ids_with_prefix(&format!("ORDERS {seconds}S"))[0],
                limiter.ids_with_prefix("ORDERS 1M")[0],
            ];
            let post = |path: &str| Request {
                method: Method::Post,
                ..Request::get(path)
            };
            let batch = post("/fapi/v1/batchOrders");
            let costs = usdm.costs(&limiter, &batch);
            assert!(
                costs.contains(&(short, 5)) && costs.contains(&(long, 1)),
                "{costs:?}"
            );
            let algo = usdm.costs(&limiter, &post("/fapi/v1/algoOrder"));
            assert!(
                algo.contains(&(short, 1)) && algo.contains(&(long, 1)),
                "{algo:?}"
            );
            assert_eq!(usdm.weight(&post("/fapi/v1/algoOrder")), 0);
        }
    }

    #[test]
    fn weights_follow_the_docs() {
        let spot = BinanceRest::new(Market::Spot);
        let usdm = BinanceRest::new(Market::Usdm);
        let depth = |limit: u32| Request::get("/api/v3/depth").param("limit", limit);
        assert_eq!(spot.weight(&depth(100)), 5);
        assert_eq!(spot.weight(&depth(1000)), 50);
        assert_eq!(spot.weight(&Request::get(WS_API_REQUEST)), 2);
        assert_eq!(
            usdm.weight(&Request::get("/fapi/v1/depth").param("limit", 1000)),
            20
        );
        assert_eq!(spot.weight(&Request::get("/api/v3/openOrders")), 80);
        assert_eq!(
            spot.weight(&Request::get("/api/v3/openOrders").param("symbol", "X")),
            6
        );
        let mut order = Request::get("/fapi/v1/order");
        order.method = Method::Post;
        assert_eq!(usdm.weight(&order), 0);
    }

    #[test]
    fn answers_map_onto_the_error_hierarchy() {
        let d = BinanceRest::new(Market::Spot);
        let none = HeaderMap::new();
        let err = |status, body: &str, h: &HeaderMap| {
            d.verdict(status, h, body.as_bytes(), 1_000).unwrap_err()
        };
        let f = err(
            400,
            r#"{"code":-1021,"msg":"Timestamp outside recvWindow"}"#,
            &none,
        );
        assert!(f.clock_rejected);
        assert!(matches!(
            err(401, r#"{"code":-2015,"msg":"Invalid API-key"}"#, &none).error,
            Error::Auth(_)
        ));
        assert!(matches!(
            err(
                400,
                r#"{"code":-2013,"msg":"Order does not exist."}"#,
                &none
            )
            .error,
            Error::OrderNotFound(_)
        ));
        assert!(matches!(
            err(
                400,
                r#"{"code":-1013,"msg":"Filter failure: LOT_SIZE"}"#,
                &none
            )
            .error,
            Error::InvalidOrder { .. }
        ));
        let f = err(
            429,
            r#"{"code":-1003,"msg":"Too much request weight used"}"#,
            &headers(&[("retry-after", "7")]),
        );
        assert_eq!(f.back_off_until, Some(8_000));
        // Ten minutes before the ban's end as the message gives it.
        let f = d
            .verdict(
                418,
                &none,
                br#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1660090423228."}"#,
                1660090423228 - 600_000,
            )
            .unwrap_err();
        assert_eq!(f.banned_until, Some(1660090423228));
        assert!(matches!(
            f.error,
            Error::Banned {
                until_ms: 1660090423228,
                ..
            }
        ));
        // Absurd Retry-After values are capped: 5 minutes for a 429, 3 days for a ban.
        for huge in ["999999", "9223372036854775807"] {
            let f = err(429, "{}", &headers(&[("retry-after", huge)]));
            assert_eq!(f.back_off_until, Some(1_000 + 300_000));
            let Error::RateLimited { retry_after, .. } = f.error else {
                panic!("{:?}", f.error)
            };
            assert_eq!(retry_after, Some(MAX_RETRY_AFTER));
            let f = err(418, "{}", &headers(&[("retry-after", huge)]));
            assert_eq!(f.banned_until, Some(1_000 + 3 * 86_400_000));
        }
        let f = err(
            418,
            r#"{"code":-1003,"msg":"IP banned until 99999999999999999."}"#,
            &none,
        );
        assert_eq!(f.banned_until, Some(1_000 + 3 * 86_400_000));
        // A long body shows as a short prefix.
        let f = err(400, &"x".repeat(100_000), &none);
        assert!(f.error.to_string().len() < 400, "{}", f.error);
        let f = err(503, "Service Unavailable", &none);
        assert!(f.venue_fault && f.error.is_retryable());
        let reply = f.error.venue_reply().unwrap();
        assert_eq!((reply.code, reply.http_status), (None, Some(503)));
    }
}
