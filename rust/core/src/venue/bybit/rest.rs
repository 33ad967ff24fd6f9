//! Bybit v5 REST conventions: the IP limit (600 per 5 s, rolling, every request), the per-UID
//! per-endpoint per-second limits (defaults from the docs' table, corrected by the
//! `X-Bapi-Limit*` headers), `retCode` answers inside HTTP 200 mapped onto [`Error`], 10006 and
//! the IP-level 403 (PROTOCOLS.md 2.3, 3.4, 8.3).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::sign;
use crate::Error;
use crate::error::{VenueReply, snippet};
use crate::model::Venue;
use crate::net::http::{Dialect, Encoded, Failure, Method, Request};
use crate::resilience::{LimitId, LimitSpec, Limiter, MAX_RETRY_AFTER, WindowKind, capped_until};
use crate::venue::Credentials;

const IP_LIMIT: &str = "IP 5s";
/// A 403 "access too frequent" stops all HTTP for at least this long.
const IP_BAN: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, Default)]
pub struct BybitRest;

impl BybitRest {
    pub fn default_limits(&self) -> Vec<LimitSpec> {
        vec![LimitSpec {
            name: IP_LIMIT.into(),
            kind: WindowKind::Rolling,
            length: Duration::from_secs(5),
            limit: 600,
        }]
    }

    /// The per-UID limit a request counts against (`None`: public, IP limit only).
    fn endpoint_limit(&self, request: &Request) -> Option<LimitSpec> {
        let spot = request.param_value("category") == Some("spot");
        let per_second = match (request.method, request.path.as_str()) {
            (Method::Post, "/v5/order/create" | "/v5/order/cancel" | "/v5/order/cancel-all") => {
                if spot {
                    20
                } else {
                    10
                }
            }
            (Method::Post, "/v5/order/amend") => 10,
            (Method::Post, p) if p.ends_with("-batch") => {
                if spot {
                    20
                } else {
                    10
                }
            }
            (Method::Post, "/v5/position/set-leverage") => 10,
            (
                Method::Get,
                "/v5/order/realtime"
                | "/v5/order/history"
                | "/v5/execution/list"
                | "/v5/position/list"
                | "/v5/account/wallet-balance",
            ) => 50,
            (Method::Get, "/v5/account/fee-rate") => 5,
            (_, p) if p.starts_with("/v5/market/") => return None,
            _ if request.signed => 10,
            _ => return None,
        };
        let category = request.param_value("category").unwrap_or("-");
        Some(LimitSpec {
            name: format!(
                "{} {} {category}",
                method_name(request.method),
                request.path
            ),
            kind: WindowKind::Rolling,
            length: Duration::from_secs(1),
            limit: per_second,
        })
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
    }
}

fn header_i64(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Bybit's JSON bodies carry flags as booleans and indexes as numbers; everything else
/// (prices, quantities, ids) as text.
pub(super) fn typed(key: &str, value: &str) -> Value {
    match key {
        // A batch's items, already JSON.
        "request" => {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        }
        "reduceOnly" | "closeOnTrigger" | "mmp" => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(value.to_owned()),
        },
        "positionIdx" | "triggerDirection" | "isLeverage" => value
            .parse::<i64>()
            .map_or_else(|_| Value::String(value.to_owned()), Value::from),
        _ => Value::String(value.to_owned()),
    }
}

impl Dialect for BybitRest {
    fn venue(&self) -> Venue {
        Venue::Bybit
    }

    fn time_request(&self) -> Request {
        Request::get("/v5/market/time")
    }

    fn server_time(&self, body: &Value) -> Option<i64> {
        let nanos: i64 = body
            .get("result")?
            .get("timeNano")?
            .as_str()?
            .parse()
            .ok()?;
        Some(nanos / 1_000_000)
    }

    fn costs(&self, limiter: &Limiter, request: &Request) -> Vec<(LimitId, u64)> {
        let mut costs: Vec<(LimitId, u64)> = limiter
            .find(IP_LIMIT)
            .map(|id| (id, 1))
            .into_iter()
            .collect();
        if let Some(spec) = self.endpoint_limit(request) {
            let id = limiter
                .find(&spec.name)
                .unwrap_or_else(|| limiter.set_limit(spec));
            // A batch consumes its endpoint's limit by the orders it holds.
            let n = match request.param_value("request") {
                Some(items) => serde_json::from_str::<Vec<serde::de::IgnoredAny>>(items)
                    .map_or(1, |l| l.len().max(1) as u64),
                None => 1,
            };
            costs.push((id, n));
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
        let (query, body) = if request.method == Method::Get {
            (
                serde_urlencoded::to_string(&request.params).unwrap_or_default(),
                None,
            )
        } else {
            let object: serde_json::Map<String, Value> = request
                .params
                .iter()
                .map(|(k, v)| (k.clone(), typed(k, v)))
                .collect();
            (String::new(), Some(Value::Object(object).to_string()))
        };
        let headers = match (request.signed, credentials) {
            (true, Some(c)) => {
                let payload = body.as_deref().unwrap_or(&query);
                sign::headers(c, now_ms, recv_window, payload).to_vec()
            }
            _ => Vec::new(),
        };
        Encoded {
            query,
            headers,
            body: body.map(|b| (b, "application/json")),
        }
    }

    fn observe(&self, limiter: &Limiter, request: &Request, headers: &HeaderMap) {
        let (Some(limit), Some(remaining)) = (
            header_i64(headers, "x-bapi-limit"),
            header_i64(headers, "x-bapi-limit-status"),
        ) else {
            return;
        };
        if let Some(spec) = self.endpoint_limit(request)
            && let Some(id) = limiter.find(&spec.name)
        {
            limiter.sync_remaining(id, limit.max(0) as u64, remaining.max(0) as u64);
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
        let code = json.as_ref().and_then(|j| j.get("retCode")?.as_i64());
        let mut message = json
            .as_ref()
            .and_then(|j| j.get("retMsg")?.as_str().map(snippet))
            .unwrap_or_else(|| snippet(String::from_utf8_lossy(body).trim()));
        // Some refusals say why in `result.reasons` (set-margin-mode).
        let reasons: Vec<&str> = json
            .as_ref()
            .and_then(|j| j.get("result")?.get("reasons")?.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|r| r.get("reasonMsg")?.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if !reasons.is_empty() {
            message = snippet(&format!("{message}: {}", reasons.join("; ")));
        }
        let reply = VenueReply {
            venue: Venue::Bybit,
            code,
            message,
            http_status: Some(status),
            request: None,
        };
        let mut failure = Failure::plain(Error::Exchange(reply.clone()));
        match (status, code) {
            (200, Some(0)) => return Ok(json.unwrap_or(Value::Null)),
            (403, _) => {
                let until = now_ms.saturating_add(IP_BAN.as_millis() as i64);
                failure.banned_until = Some(until);
                failure.error = Error::Banned {
                    reply,
                    until_ms: until,
                };
            }
            (500.., _) | (200, None) => failure.venue_fault = status >= 500,
            (_, Some(10006)) | (429, _) => {
                // At most MAX_RETRY_AFTER: a reset days away is a broken answer.
                let until = header_i64(headers, "x-bapi-limit-reset-timestamp")
                    .filter(|t| *t > now_ms)
                    .map(|t| capped_until(now_ms, t, MAX_RETRY_AFTER))
                    .unwrap_or(now_ms.saturating_add(1000));
                failure.back_off_until = Some(until);
                failure.error = Error::RateLimited {
                    reply,
                    retry_after: Some(Duration::from_millis((until - now_ms) as u64)),
                };
            }
            (_, Some(10002)) => failure.clock_rejected = true,
            (401, _) => failure.error = Error::Auth(reply),
            _ => failure.error = refusal(reply),
        }
        if json.is_none() && status == 200 {
            failure.error = Error::Protocol {
                venue: Venue::Bybit,
                reason: "a 200 answer that is not JSON".into(),
            };
        }
        Err(failure)
    }
}

/// The typed error of a refusal by its code (a whole answer's, or one item's of a batch).
pub(super) fn refusal(reply: VenueReply) -> Error {
    use crate::orders::rule;
    match reply.code {
        Some(10003 | 10004 | 10005 | 10007 | 10010 | 33004) => Error::Auth(reply),
        // A batch's orders past the limit fail on their own (the rest go through).
        Some(10006) => Error::RateLimited {
            reply,
            retry_after: None,
        },
        Some(110001 | 170213 | 110008) => Error::OrderNotFound(reply),
        Some(10001) if reply.message.contains("remains unchanged") => Error::InvalidOrder {
            rule: rule::NO_CHANGE.to_owned(),
            message: reply.message.clone(),
            reply: Some(reply),
        },
        // "tp:... set for Buy position should be higher than base_price", "sl:... set for Sell
        // position should greater base_price", "can not set tp/sl/ts for zero position".
        Some(10001)
            if reply.message.contains("base_price") || reply.message.contains("zero position") =>
        {
            Error::InvalidOrder {
                rule: rule::EXITS.to_owned(),
                message: reply.message.clone(),
                reply: Some(reply),
            }
        }
        // The trigger-side refusals have come under 10001 too.
        Some(10001)
            if reply.message.contains("expect Rising")
                || reply.message.contains("expect Falling") =>
        {
            Error::InvalidOrder {
                rule: rule::TRIGGER_PRICE.to_owned(),
                message: reply.message.clone(),
                reply: Some(reply),
            }
        }
        Some(
            code @ (110003 | 110004 | 110007 | 110012 | 110017 | 110044 | 110092 | 110093 | 110094
            | 170033 | 170134 | 170136 | 170137 | 170131 | 170140 | 170124),
        ) => Error::InvalidOrder {
            rule: match code {
                // Wallet / available balance / margin insufficient, spot balance.
                110004 | 110007 | 110012 | 110044 | 170033 | 170131 => {
                    rule::INSUFFICIENT_FUNDS.to_owned()
                }
                // "orderQty will be truncated to zero": no position for a reduce-only order.
                110017 => rule::REDUCE_ONLY.to_owned(),
                // "expect Rising/Falling, but trigger_price ... current": it would fire at once.
                110092 | 110093 => rule::TRIGGER_PRICE.to_owned(),
                _ => code.to_string(),
            },
            message: reply.message.clone(),
            reply: Some(reply),
        },
        _ => Error::Exchange(reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_bodies_are_signed_exactly_as_sent() {
        let c = Credentials::new("key", "secret").unwrap();
        let mut request = Request::get("/v5/order/create")
            .param("category", "linear")
            .param("qty", "0.01");
        request.method = Method::Post;
        request.signed = true;
        let encoded = BybitRest.encode(&request, Some(&c), 1_000, Duration::from_millis(5000));
        let (body, _) = encoded.body.unwrap();
        assert_eq!(body, r#"{"category":"linear","qty":"0.01"}"#);
        let sign = &encoded
            .headers
            .iter()
            .find(|(k, _)| *k == "X-BAPI-SIGN")
            .unwrap()
            .1;
        assert_eq!(*sign, c.sign(&format!("1000key5000{body}")));
    }

    #[test]
    fn ret_codes_map_onto_the_error_hierarchy() {
        let none = HeaderMap::new();
        let err = |status, body: &str| {
            BybitRest
                .verdict(status, &none, body.as_bytes(), 5_000)
                .unwrap_err()
        };
        assert!(err(200, r#"{"retCode":10002,"retMsg":"invalid request, please check your server timestamp"}"#).clock_rejected);
        assert!(matches!(
            err(200, r#"{"retCode":10003,"retMsg":"API key is invalid."}"#).error,
            Error::Auth(_)
        ));
        assert!(matches!(
            err(200, r#"{"retCode":110001,"retMsg":"order not exists"}"#).error,
            Error::OrderNotFound(_)
        ));
        let limited = err(200, r#"{"retCode":10006,"retMsg":"Too many visits"}"#);
        assert_eq!(limited.back_off_until, Some(6_000));
        let far = {
            let mut h = HeaderMap::new();
            h.insert("x-bapi-limit-reset-timestamp", i64::MAX.into());
            BybitRest
                .verdict(
                    200,
                    &h,
                    br#"{"retCode":10006,"retMsg":"Too many visits"}"#,
                    5_000,
                )
                .unwrap_err()
        };
        assert_eq!(far.back_off_until, Some(5_000 + 300_000));
        // Exits on the wrong side of their base price (a real answer's words), or with no
        // position to protect.
        for body in [
            r#"{"retCode":10001,"retMsg":"sl:257970000 set for Sell position should greater base_price:259477000??LastPrice"}"#,
            r#"{"retCode":10001,"retMsg":"can not set tp/sl/ts for zero position"}"#,
        ] {
            assert!(
                matches!(&err(200, body).error, Error::InvalidOrder { rule, .. } if rule == "exits"),
                "{body}"
            );
        }
        let long = err(400, &"y".repeat(100_000));
        assert!(long.error.to_string().len() < 400, "{}", long.error);
        let banned = err(403, "access too frequent");
        assert_eq!(banned.banned_until, Some(605_000));
        assert!(err(502, "").venue_fault);
        let ok = BybitRest.verdict(200, &none, br#"{"retCode":0,"retMsg":"OK","result":{}}"#, 0);
        assert!(ok.is_ok());
    }
}
