//! REST answers: every mutated recorded answer, under a random status and random headers
//! (Retry-After and the venues' usage headers with extreme values), through each venue's
//! `Dialect` (verdict, usage headers into a real limiter, server time into the clock) and then
//! every reader an answer can reach (order, account and position answers, symbol listings,
//! published limits, book snapshots).
//!
//! Besides not panicking: a verdict is `Ok` only for a success status; a back-off or ban it
//! asks for ends no later than the caps (`MAX_RETRY_AFTER`, `MAX_BAN`) allow; an error quotes a
//! bounded part of the answer; usage headers never make a limit or a count absurd; a server
//! time far from ours moves the clock that way, never wraps it round.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::time::Instant;

use futures_util::FutureExt;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tradewire_core::Error;
use tradewire_core::model::{Market, Order, Symbol, Venue};
use tradewire_core::net::{Method, Request};
use tradewire_core::resilience::{
    ClockSync, Limiter, MAX_BAN, MAX_COUNT, MAX_RETRY_AFTER, Priority,
};
use tradewire_core::venue::{self, Adapter, Written};

use crate::corpus::REST;
use crate::mutate::mutation;
use crate::sync::Driven;
use crate::wire::MARKETS;
use crate::{config, regressions};

/// A runtime for the limiter's waits (polled once: a wait is never awaited here).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
});

/// A real order of each venue, for the readers that look up an order's executions.
static ORDERS: LazyLock<Vec<(Venue, Order)>> = LazyLock::new(|| {
    let read = |venue: Venue, market: Market, name: &str| {
        let seed = REST
            .iter()
            .find(|s| s.name.ends_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        let trading = venue::adapter(venue).trading(market);
        let order = match trading.orders_of(&seed.value) {
            Ok((orders, _)) if !orders.is_empty() => orders[0].clone(),
            other => panic!("{name}: {other:?}"),
        };
        (venue, order)
    };
    vec![
        read(Venue::Binance, Market::Spot, "docs-open-orders.json"),
        read(Venue::Bybit, Market::Linear, "nt-orders-realtime.json"),
    ]
});

fn fail(what: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(what))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Every reader an answer of `market` can reach, with what is read carried on downstream.
fn read_answer(
    adapter: &dyn Adapter,
    market: Market,
    answer: &Value,
    now_ms: i64,
) -> Result<(), TestCaseError> {
    let venue = adapter.venue();
    let trading = adapter.trading(market);
    let order = &ORDERS.iter().find(|(v, _)| *v == venue).expect("order").1;
    let mut errors = Vec::new();
    let mut written = Vec::new();
    match trading.placed(answer) {
        Ok(w) => written.push(w),
        Err(e) => errors.push(e),
    }
    match trading.canceled(answer) {
        Ok(w) => written.push(w),
        Err(e) => errors.push(e),
    }
    match trading.all_canceled(answer) {
        Ok(w) => written.extend(w),
        Err(e) => errors.push(e),
    }
    let mut orders = Vec::new();
    match trading.queried(answer) {
        Ok(o) => orders.extend(o),
        Err(e) => errors.push(e),
    }
    match trading.orders_of(answer) {
        Ok((o, _)) => orders.extend(o),
        Err(e) => errors.push(e),
    }
    for w in written {
        if let Written::Order(o, _) = w {
            orders.push(o);
        }
    }
    for o in &orders {
        if let Some(refused) = trading.refusal(o) {
            errors.push(refused);
        }
    }
    errors.extend(trading.balances_of(answer, now_ms).err());
    errors.extend(trading.positions_of(answer, None).err());
    errors.extend(trading.positions_of(answer, Some(answer)).err());
    errors.extend(trading.trades_of(answer, order).err());
    errors.extend(trading.fills_of(answer).err());
    errors.extend(
        adapter
            .agg_trades_of(market, Symbol::new("BTCUSDT"), answer)
            .err(),
    );
    errors.extend(adapter.symbols_of(market, answer).err());
    for e in &errors {
        let _ = trading.names_a_filter(e);
    }
    if let Some(limits) = adapter.published_limits(answer) {
        let limiter = limiter(venue, market, now_ms);
        limiter.replace_limits(limits);
        spend(&limiter, adapter, market);
    }
    if let Ok(snapshot) = adapter.snapshot_of(Symbol::new("BTCUSDT"), answer) {
        Driven::new(venue, market).snapshot(&snapshot)?;
    }
    if let Some(server_ms) = adapter.rest(market).server_time(answer) {
        clock(server_ms)?;
    }
    Ok(())
}

/// A server time read into a fresh clock: ours moves towards it and never wraps round.
fn clock(server_ms: i64) -> Result<(), TestCaseError> {
    let clock = ClockSync::new();
    let now = Instant::now();
    clock.add_sample(now, now, server_ms);
    let _ = (clock.offset_ms(), clock.snapshot());
    let ours = clock.now_server_ms();
    let wall = ClockSync::new().now_server_ms();
    const DAY: i64 = 86_400_000;
    if (server_ms > wall.saturating_add(DAY) && ours <= wall)
        || (server_ms < wall.saturating_sub(DAY) && ours >= wall)
    {
        return fail(format!(
            "server time {server_ms} made our estimate {ours} (local {wall})"
        ));
    }
    Ok(())
}

/// A limiter of the venue market's documented limits, on a clock stopped at `now_ms`.
fn limiter(venue: Venue, market: Market, now_ms: i64) -> Limiter {
    let limiter = Limiter::new(venue, std::sync::Arc::new(move || now_ms), 0.1);
    limiter.replace_limits(venue::adapter(venue).default_limits(market));
    limiter
}

/// A request typical of the venue market that spends from its limits.
fn request(venue: Venue, market: Market, order: bool) -> Request {
    let path = match (venue, market, order) {
        (Venue::Binance, Market::Spot, false) => "/api/v3/account",
        (Venue::Binance, Market::Spot, true) => "/api/v3/order",
        (Venue::Binance, _, false) => "/fapi/v2/account",
        (Venue::Binance, _, true) => "/fapi/v1/order",
        (Venue::Bybit, _, false) => "/v5/account/wallet-balance",
        (Venue::Bybit, _, true) => "/v5/order/create",
    };
    let mut request = Request::get(path)
        .param("category", market.as_str())
        .signed();
    if order {
        request.method = Method::Post;
        request.priority = Priority::Order;
    }
    request
}

/// Asks the limiter for room once (a wait is dropped, never awaited); reads its usage.
fn spend(limiter: &Limiter, adapter: &dyn Adapter, market: Market) {
    let _runtime = RUNTIME.enter();
    for order in [false, true] {
        let request = request(adapter.venue(), market, order);
        let costs = adapter.rest(market).costs(limiter, &request);
        let _ = limiter
            .acquire_within(&costs, request.priority, Some(Duration::ZERO))
            .now_or_never();
    }
    let _ = limiter.usage();
}

fn check_verdict(
    status: u16,
    now_ms: i64,
    verdict: &Result<Value, Box<tradewire_core::net::Failure>>,
) -> Result<(), TestCaseError> {
    let failure = match verdict {
        Ok(_) if (200..300).contains(&status) => return Ok(()),
        Ok(_) => return fail(format!("a {status} answer taken as a success")),
        Err(failure) => failure,
    };
    let back_off_cap = now_ms.saturating_add(ms(MAX_RETRY_AFTER));
    if failure.back_off_until.is_some_and(|t| t > back_off_cap) {
        return fail(format!(
            "back off until {:?} from {now_ms}",
            failure.back_off_until
        ));
    }
    let ban_cap = now_ms.saturating_add(ms(MAX_BAN));
    if failure.banned_until.is_some_and(|t| t > ban_cap) {
        return fail(format!(
            "banned until {:?} from {now_ms}",
            failure.banned_until
        ));
    }
    if let Error::RateLimited {
        retry_after: Some(wait),
        ..
    } = &failure.error
        && *wait > MAX_BAN
    {
        return fail(format!("retry after {wait:?}"));
    }
    let text = failure.error.to_string();
    if text.chars().count() > 1_000 {
        return fail(format!("an error of {} chars", text.chars().count()));
    }
    Ok(())
}

const HEADER_NAMES: [&str; 12] = [
    "retry-after",
    "x-mbx-used-weight",
    "x-mbx-used-weight-1m",
    "x-mbx-used-weight-1s",
    "x-mbx-order-count-10s",
    "x-mbx-order-count-1d",
    "x-mbx-order-count-",
    "x-mbx-used-weight-99999999999999999999m",
    "x-bapi-limit",
    "x-bapi-limit-status",
    "x-bapi-limit-reset-timestamp",
    "content-type",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let text = |t: &str| t.as_bytes().to_vec();
    prop_oneof![
        Just(text("0")),
        Just(text("1")),
        Just(text("-1")),
        Just(text("999999")),
        Just(text(&u64::MAX.to_string())),
        Just(text(&i64::MAX.to_string())),
        Just(text(&i64::MIN.to_string())),
        Just(text("18446744073709551616")),
        Just(text("1e400")),
        Just(text("NaN")),
        Just(text("")),
        Just(text(" 12 ")),
        Just(text("Wed, 21 Oct 2015 07:28:00 GMT")),
        Just(text(&"9".repeat(8_000))),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        any::<u64>().prop_map(|v| v.to_string().into_bytes()),
        (0u64..2_000_000).prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    prop::collection::vec((0..HEADER_NAMES.len(), header_value()), 0..6)
}

fn header_map(pairs: &[(usize, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        // Bytes no HTTP library would hand over (controls) are not headers.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.append(HeaderName::from_static(HEADER_NAMES[*name]), value);
        }
    }
    map
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        8 => Just(200u16),
        1 => Just(400),
        1 => Just(401),
        1 => Just(403),
        1 => Just(404),
        2 => Just(418),
        2 => Just(429),
        1 => Just(500),
        1 => Just(503),
        2 => 100u16..600,
    ]
}

fn now_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1_600_000_000_000i64..1_900_000_000_000,
        1 => Just(0),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => any::<i64>(),
    ]
}

proptest! {
    #![proptest_config(config(regressions!("rest_answers")))]

    #[test]
    fn no_rest_answer_status_or_header_panics_any_reader(
        m in mutation(),
        status in status(),
        headers in headers(),
        now_ms in now_ms(),
    ) {
        let (_, body) = m.bytes(&REST);
        let headers = header_map(&headers);
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        for (venue, market) in MARKETS {
            let adapter = venue::adapter(venue);
            let dialect = adapter.rest(market);
            let verdict = dialect.verdict(status, &headers, &body, now_ms);
            check_verdict(status, now_ms, &verdict)?;
            if let Ok(value) = &verdict {
                read_answer(adapter, market, value, now_ms)?;
            }
            // What the venue did not mark a success is read too: readers must not rely on it.
            if let Some(value) = &parsed {
                read_answer(adapter, market, value, now_ms)?;
            }
        }
    }

    #[test]
    fn usage_headers_never_make_a_limit_absurd(
        headers in headers(),
        which in 0usize..4,
        now_ms in now_ms(),
    ) {
        let (venue, market) = MARKETS[which];
        let adapter = venue::adapter(venue);
        let limiter = limiter(venue, market, now_ms);
        let documented: u64 = adapter.default_limits(market).iter().map(|l| l.limit).max().unwrap_or(0);
        let headers = header_map(&headers);
        for order in [false, true] {
            let request = request(venue, market, order);
            let dialect = adapter.rest(market);
            // Registers the endpoint's limit, as a request does before its answer is observed.
            let _ = dialect.costs(&limiter, &request);
            dialect.observe(&limiter, &request, &headers);
        }
        spend(&limiter, adapter, market);
        for usage in limiter.usage() {
            prop_assert!(usage.limit <= documented.max(MAX_COUNT), "{:?}", usage);
            prop_assert!(usage.used <= MAX_COUNT.saturating_add(100), "{:?}", usage);
        }
    }
}

fn server_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 1_600_000_000_000i64..1_900_000_000_000,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => (0i64..10_000_000).prop_map(|d| i64::MAX - d),
        1 => (0i64..10_000_000).prop_map(|d| i64::MIN + d),
        2 => any::<i64>(),
    ]
}

proptest! {
    #![proptest_config(config(regressions!("server_time")))]

    #[test]
    fn any_server_time_moves_the_clock_without_wrapping(server_ms in server_ms()) {
        let answers = [
            (Venue::Binance, serde_json::json!({"serverTime": server_ms})),
            (Venue::Bybit, serde_json::json!({"retCode": 0, "result": {"timeNano": server_ms.to_string()}})),
        ];
        for (venue, answer) in answers {
            for &market in Market::of(venue) {
                if let Some(read) = venue::adapter(venue).rest(market).server_time(&answer) {
                    clock(read)?;
                }
            }
        }
    }
}
