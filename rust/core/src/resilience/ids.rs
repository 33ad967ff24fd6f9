//! Client order ids and request ids (RESL-05).
//!
//! A client order id is how an order whose answer was lost is found again, so two orders must
//! never share one: not across reconnects, restarts, or processes trading the same account.
//! Generated ids are `prefix ‖ time ‖ pid ‖ random ‖ counter`, everything after the prefix
//! fixed-width lower-case base36, which every venue's rule ([`IdRule`], declared by each venue
//! adapter) accepts after a valid prefix:
//!
//! - time: Unix ms of the call (9 chars, enough until the year 5188), to read in logs;
//! - pid (5 chars, exact for Linux and macOS pids): processes running side by side differ
//!   here. Read on every call, so processes forked from one generator differ too;
//! - random (6 chars, ~31 bits) drawn once per generator: restarts and other hosts differ here;
//! - counter (8 chars): ids of one generator differ by it alone, until it wraps after 36^8
//!   ≈ 2.8·10^12 ids, and even then the time part differs.
//!
//! Fixed widths keep prefixes of different lengths from running into the fields after them.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arrayvec::ArrayString;

use crate::model::Id;
use crate::{Error, Result};

/// The length of a generated id with the longest prefix (every venue takes 36).
pub const MAX_CLIENT_ID_LEN: usize = 36;
pub const MAX_PREFIX_LEN: usize = 8;

const TIME_WIDTH: u32 = 9;
const PID_WIDTH: u32 = 5;
const RANDOM_WIDTH: u32 = 6;
const COUNTER_WIDTH: u32 = 8;
const _: () = assert!(
    MAX_PREFIX_LEN + (TIME_WIDTH + PID_WIDTH + RANDOM_WIDTH + COUNTER_WIDTH) as usize
        == MAX_CLIENT_ID_LEN
);

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// What a venue accepts as a client order id: 1 to `max_len` ASCII letters, digits and the
/// `symbols` listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRule {
    pub max_len: usize,
    pub symbols: Cow<'static, str>,
}

impl IdRule {
    /// The ids every one of `rules` accepts.
    pub fn common(rules: &[IdRule]) -> IdRule {
        let max_len = rules.iter().map(|r| r.max_len).min().unwrap_or(0);
        let symbols = rules.first().map_or_else(String::new, |first| {
            first
                .symbols
                .chars()
                .filter(|c| rules.iter().all(|r| r.symbols.contains(*c)))
                .collect()
        });
        IdRule {
            max_len,
            symbols: Cow::Owned(symbols),
        }
    }

    fn allows(&self, c: char) -> bool {
        c.is_ascii_alphanumeric() || (c.is_ascii() && self.symbols.contains(c))
    }

    /// `ASCII letters, digits, '-' and '_'`.
    fn describe(&self) -> String {
        let symbols: Vec<String> = self.symbols.chars().map(|c| format!("{c:?}")).collect();
        match symbols.split_last() {
            None => "ASCII letters and digits".to_owned(),
            Some((last, rest)) => {
                let mut all = vec!["ASCII letters".to_owned(), "digits".to_owned()];
                all.extend_from_slice(rest);
                format!("{} and {last}", all.join(", "))
            }
        }
    }
}

/// Generates client order ids unique across connections, restarts and processes.
#[derive(Debug)]
pub struct ClientIds {
    prefix: ArrayString<MAX_PREFIX_LEN>,
    random: u64,
    counter: AtomicU64,
}

impl ClientIds {
    /// `prefix`: up to 8 characters `rule` allows (letters, digits, `-` or `_` on every
    /// venue), e.g. to tell strategies apart.
    pub fn new(prefix: &str, rule: &IdRule) -> Result<ClientIds> {
        // Characters first: once ASCII, bytes and characters count the same.
        check_chars("prefix", prefix, rule)?;
        let Ok(prefix) = ArrayString::from(prefix) else {
            return Err(Error::invalid_argument(
                "prefix",
                format!(
                    "'{prefix}' is {} characters, at most {MAX_PREFIX_LEN} allowed",
                    prefix.len()
                ),
            ));
        };
        Ok(ClientIds {
            prefix,
            // `Rng::new` is seeded from the thread's generator, itself seeded from OS entropy.
            random: fastrand::Rng::new().u64(..),
            counter: AtomicU64::new(0),
        })
    }

    pub fn next(&self) -> Id {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = ArrayString::<MAX_CLIENT_ID_LEN>::new();
        id.push_str(&self.prefix);
        push_base36(&mut id, unix_ms(), TIME_WIDTH);
        push_base36(&mut id, u64::from(std::process::id()), PID_WIDTH);
        push_base36(&mut id, self.random, RANDOM_WIDTH);
        push_base36(&mut id, n, COUNTER_WIDTH);
        Id::new(&id)
    }
}

/// Checks a caller-supplied client order id against `rule`.
pub fn validate_client_id(id: &str, rule: &IdRule) -> Result<()> {
    const FIELD: &str = "client_order_id";
    if id.is_empty() {
        return Err(Error::invalid_argument(FIELD, "must not be empty"));
    }
    let len = id.chars().count();
    if len > rule.max_len {
        return Err(Error::invalid_argument(
            FIELD,
            format!(
                "'{id}' is {len} characters, at most {} allowed",
                rule.max_len
            ),
        ));
    }
    check_chars(FIELD, id, rule)
}

fn check_chars(field: &str, text: &str, rule: &IdRule) -> Result<()> {
    match text.chars().enumerate().find(|(_, c)| !rule.allows(*c)) {
        Some((at, c)) => Err(Error::invalid_argument(
            field,
            format!(
                "'{text}' has {c:?} at position {at}; only {} are valid on every venue",
                rule.describe()
            ),
        )),
        None => Ok(()),
    }
}

/// Appends `value mod 36^width` as exactly `width` base36 digits.
fn push_base36<const N: usize>(out: &mut ArrayString<N>, value: u64, width: u32) {
    let mut rest = 36u64
        .checked_pow(width)
        .map_or(value, |modulus| value % modulus);
    let mut digits = [b'0'; 13];
    let width = width as usize;
    for slot in digits[..width].iter_mut().rev() {
        *slot = BASE36[(rest % 36) as usize];
        rest /= 36;
    }
    for &digit in &digits[..width] {
        out.push(char::from(digit));
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// WebSocket request ids. The counter starts at a random 32-bit value so that a late reply to
/// a request of an earlier connection is not taken for a reply to this one's; starting below
/// 2^32 keeps ids far from 2^53, where JSON readers that parse numbers as doubles lose digits.
#[derive(Debug)]
pub struct RequestIds(AtomicU64);

impl RequestIds {
    pub fn new() -> RequestIds {
        RequestIds(AtomicU64::new(u64::from(fastrand::u32(..))))
    }

    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

impl Default for RequestIds {
    fn default() -> RequestIds {
        RequestIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The rule of the registered venues, which generated ids must always meet.
    fn rule() -> &'static IdRule {
        crate::venue::client_id_rule()
    }

    /// `^[\.A-Z\:/a-z0-9_-]{1,36}$`, by hand.
    fn valid_for_binance(id: &str) -> bool {
        (1..=36).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'))
    }

    /// Up to 36 letters, digits, `-` and `_`.
    fn valid_for_bybit(id: &str) -> bool {
        (1..=36).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    }

    fn reason(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::InvalidArgument { reason, .. }) => reason,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn a_million_ids_are_unique_and_valid_on_both_venues() {
        let ids = ClientIds::new("strat_1", rule()).expect("valid prefix");
        let mut seen = HashSet::with_capacity(1_000_000);
        for _ in 0..1_000_000 {
            let id = ids.next();
            assert!(valid_for_binance(&id) && valid_for_bybit(&id), "{id}");
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn generators_created_together_never_collide() {
        // Same process and millisecond: what sets apart two processes, or a restart.
        let (a, b) = (
            ClientIds::new("tw", rule()).unwrap(),
            ClientIds::new("tw", rule()).unwrap(),
        );
        let mut from_a = HashSet::with_capacity(100_000);
        let mut from_b = HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            from_a.insert(a.next());
            from_b.insert(b.next());
        }
        assert_eq!(from_a.len(), 100_000);
        assert_eq!(from_b.len(), 100_000);
        assert!(from_a.is_disjoint(&from_b));
    }

    #[test]
    fn layout_is_prefix_time_pid_random_counter() {
        let ids = ClientIds::new("X-9", rule()).unwrap();
        let (first, second) = (ids.next(), ids.next());
        assert_eq!(first.len(), 3 + 28);
        assert!(first.starts_with("X-9"));
        let time = u64::from_str_radix(&first[3..12], 36).unwrap();
        assert!(unix_ms() - time < 60_000, "time part {time}");
        let pid = u64::from_str_radix(&first[12..17], 36).unwrap();
        assert_eq!(pid, u64::from(std::process::id()));
        assert_eq!(
            &first[17..23],
            &second[17..23],
            "one random part per generator"
        );
        assert_eq!(&first[23..], "00000000");
        assert_eq!(&second[23..], "00000001");
        // Without a prefix the id is still a full-width, valid one.
        let bare = ClientIds::new("", rule()).unwrap().next();
        assert_eq!(bare.len(), 28);
        assert!(valid_for_bybit(&bare));
    }

    #[test]
    fn the_longest_prefix_still_fits() {
        let id = ClientIds::new("abcdEF_-", rule()).unwrap().next();
        assert_eq!(id.len(), MAX_CLIENT_ID_LEN);
        assert!(valid_for_binance(&id) && valid_for_bybit(&id));
    }

    #[test]
    fn base36_is_fixed_width_and_wraps() {
        let mut out = ArrayString::<32>::new();
        push_base36(&mut out, 35, 3);
        push_base36(&mut out, 36 * 36 * 36 + 36, 3);
        push_base36(&mut out, u64::MAX, 13);
        assert_eq!(out.as_str(), "00z0103w5e11264sgsf");
    }

    #[test]
    fn invalid_prefixes_are_refused_with_reasons() {
        assert!(reason(ClientIds::new("toolong12", rule())).contains("at most 8"));
        assert!(reason(ClientIds::new("a.b", rule())).contains("'.' at position 1"));
        assert!(reason(ClientIds::new("é", rule())).contains("position 0"));
        assert!(matches!(
            ClientIds::new("a b", rule()),
            Err(Error::InvalidArgument { field, .. }) if field == "prefix"
        ));
    }

    #[test]
    fn user_client_ids_are_checked_against_every_venue() {
        assert!(validate_client_id("my-order_42", rule()).is_ok());
        assert!(validate_client_id(&"a".repeat(36), rule()).is_ok());
        assert!(reason(validate_client_id("", rule())).contains("empty"));
        assert!(reason(validate_client_id(&"a".repeat(37), rule())).contains("37 characters"));
        // Valid on one venue, refused by another, so refused here.
        assert!(reason(validate_client_id("web.order", rule())).contains("'.' at position 3"));
        assert_eq!(
            reason(validate_client_id("a:b", rule())),
            "'a:b' has ':' at position 1; only ASCII letters, digits, '-' and '_' are valid on \
             every venue"
        );
        assert!(matches!(
            validate_client_id("ü", rule()),
            Err(Error::InvalidArgument { field, .. }) if field == "client_order_id"
        ));
    }

    #[test]
    fn the_common_rule_keeps_what_every_rule_allows() {
        let a = IdRule {
            max_len: 36,
            symbols: "._-".into(),
        };
        let b = IdRule {
            max_len: 32,
            symbols: "-".into(),
        };
        let both = IdRule::common(&[a, b]);
        assert_eq!((both.max_len, both.symbols.as_ref()), (32, "-"));
        assert_eq!(both.describe(), "ASCII letters, digits and '-'");
    }

    #[test]
    fn request_ids_count_up_from_a_random_32_bit_start() {
        let ids = RequestIds::new();
        let first = ids.next();
        assert!(first < 1 << 32);
        assert_eq!(ids.next(), first + 1);
        let shared = RequestIds::default();
        let all: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..10_000).map(|_| shared.next()).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("counting thread"))
                .collect()
        });
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 40_000);
    }
}
