//! Binance listen keys: the USD-M `listenKey` create/keepalive/close endpoints and the spot
//! `userDataStream` endpoints, which answer as retired (DESIGN.md decision 2).

use axum::http::HeaderMap;
use serde_json::json;

use super::routes::Endpoint;
use super::{Answer, ApiError};
use crate::binance::BinanceState;

/// Spot REST listen keys are retired: user data comes over the WebSocket API.
pub(super) fn retired() -> Answer {
    Err(ApiError::new(
        410,
        -1000,
        "This endpoint has been retired. Use userDataStream.subscribe on the WebSocket API.",
    ))
}

pub(super) fn listen_key(
    st: &BinanceState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    now: i64,
) -> Answer {
    let key = headers
        .get("X-MBX-APIKEY")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let account = st.market.lock().account_by_key(key).ok_or_else(|| {
        ApiError::new(
            401,
            -2015,
            "Invalid API-key, IP, or permissions for action.",
        )
    })?;
    let validity = st.timing.listen_key_validity.as_millis() as i64;
    let mut keys = st.listen_keys.lock().unwrap_or_else(|p| p.into_inner());
    let existing = keys
        .iter()
        .find(|(_, (a, exp))| *a == account && *exp > now)
        .map(|(k, _)| k.clone());
    match endpoint {
        Endpoint::ListenKeyCreate => {
            let key = existing.unwrap_or_else(|| {
                let mut rng = fastrand::Rng::new();
                (0..64).map(|_| rng.alphanumeric()).collect()
            });
            keys.insert(key.clone(), (account, now + validity));
            Ok(json!({"listenKey": key}))
        }
        Endpoint::ListenKeyKeepalive => match existing {
            Some(key) => {
                keys.insert(key.clone(), (account, now + validity));
                Ok(json!({"listenKey": key}))
            }
            None => Err(ApiError::bad(-1125, "This listenKey does not exist.")),
        },
        _ => {
            if let Some(key) = existing {
                keys.insert(key, (account, now));
            }
            Ok(json!({}))
        }
    }
}
