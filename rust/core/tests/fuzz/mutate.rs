//! Structure-aware mutations of a real message: edits of its JSON tree (any node replaced by an
//! extreme or wrongly typed value, removed, moved, repeated; keys renamed or sent twice), then
//! edits of its bytes (cut, flipped, inserted, deleted, or all garbage).
//!
//! Some values cannot be held by a `serde_json::Value` (`1e400`, a 60-digit integer, arrays
//! nested thousands deep, a key twice): they are written as a marker string and swapped for
//! their raw text after the tree is serialized. Building the deep ones as text also keeps the
//! generator itself free of recursion.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

use crate::corpus::Seed;

/// Text that no `Value` holds, written raw into the message.
#[derive(Debug, Clone)]
pub enum Raw {
    Text(&'static str),
    /// `[[[…]]]`, this deep.
    Arrays(u16),
    /// `{"a":{"a":…1…}}`, this deep.
    Objects(u16),
    /// An integer of this many digits.
    Digits(u8),
    /// `0.000…1` with this many decimals.
    Decimals(u8),
    /// A string this long.
    Long(u32),
    /// This many `["1.0","1"]` levels.
    Levels(u16),
}

impl Raw {
    fn render(&self) -> String {
        match *self {
            Raw::Text(t) => t.to_owned(),
            Raw::Arrays(n) => "[".repeat(n.into()) + &"]".repeat(n.into()),
            Raw::Objects(n) => r#"{"a":"#.repeat(n.into()) + "1" + &"}".repeat(n.into()),
            Raw::Digits(n) => "9".repeat(n.into()),
            Raw::Decimals(n) => format!("0.{}1", "0".repeat(n.into())),
            Raw::Long(n) => format!("\"{}\"", "x".repeat(n as usize)),
            Raw::Levels(n) => format!("[{}]", vec![r#"["1.0","1"]"#; n.into()].join(",")),
        }
    }
}

/// What replaces a node.
#[derive(Debug, Clone)]
pub enum Wild {
    Value(Value),
    Raw(Raw),
    /// A copy of another node of the same message (a list where a number was, and so on).
    Copy(Index),
}

#[derive(Debug, Clone)]
pub enum Edit {
    Replace(Index, Wild),
    Remove(Index),
    /// The object at (or holding) the node gets one of its keys a second time, last.
    Duplicate(Index, Wild),
    /// The node's key is renamed.
    Rename(Index, String),
    Swap(Index, Index),
    /// A list's items repeated this many times (at most 2000 items).
    Repeat(Index, u8),
}

#[derive(Debug, Clone)]
pub enum TextEdit {
    Truncate(Index),
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, u8),
    /// The whole message replaced.
    Garbage(Vec<u8>),
}

/// One fuzz input: a seed and what is done to it.
#[derive(Debug, Clone)]
pub struct Mutation {
    pub seed: Index,
    pub edits: Vec<Edit>,
    pub text: Vec<TextEdit>,
}

fn extreme_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(9_007_199_254_740_993u64)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        Just(json!(0.1)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!("")),
        Just(json!("1e400")),
        Just(json!("-1e400")),
        Just(json!("NaN")),
        Just(json!("inf")),
        Just(json!("-0")),
        Just(json!("0")),
        Just(json!("-1")),
        Just(json!(" 1 ")),
        Just(json!("1e-30")),
        Just(json!("18446744073709551616")),
        Just(json!("-9223372036854775809")),
        Just(json!("79228162514264337593543950336")),
        Just(json!("7922816251426433759354395033.5")),
        Just(json!("0.000000000000000000000000000001")),
        Just(json!("123.456789012345678901234567890123")),
        Just(json!(
            "999999999999999999999999999999999999999999999999999999999999"
        )),
        Just(json!("₿𝟙٣\u{0}\u{202e}")),
        Just(json!("BUY")),
        Just(json!("Sell")),
        Just(json!("FILLED")),
        Just(json!("snapshot")),
        Just(json!("delta")),
        Just(json!("depthUpdate")),
        Just(json!("executionReport")),
        (any::<i64>(), 0u32..=28)
            .prop_map(|(m, s)| json!(rust_decimal::Decimal::new(m, s).to_string())),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(json!({})),
        Just(json!([])),
        Just(json!([[]])),
        Just(json!(["1", "2"])),
        Just(json!([["1.0", "1"], ["0", "-1"]])),
        Just(json!([["1.0"]])),
        Just(json!({"a": 1})),
    ]
}

fn raw() -> impl Strategy<Value = Raw> {
    prop_oneof![
        Just(Raw::Text("1e400")),
        Just(Raw::Text("-1e400")),
        Just(Raw::Text("1e-400")),
        Just(Raw::Text("-0")),
        Just(Raw::Text("NaN")),
        Just(Raw::Text("Infinity")),
        Just(Raw::Text("18446744073709551616")),
        Just(Raw::Text("-9223372036854775809")),
        Just(Raw::Text(r#""\ud800""#)),
        Just(Raw::Text(r#""\u0000""#)),
        (100u16..4_000).prop_map(Raw::Arrays),
        (100u16..4_000).prop_map(Raw::Objects),
        Just(Raw::Arrays(127)),
        Just(Raw::Arrays(128)),
        (20u8..80).prop_map(Raw::Digits),
        (20u8..40).prop_map(Raw::Decimals),
        (0u32..100_000).prop_map(Raw::Long),
        (0u16..3_000).prop_map(Raw::Levels),
    ]
}

fn wild() -> impl Strategy<Value = Wild> {
    prop_oneof![
        6 => extreme_value().prop_map(Wild::Value),
        3 => raw().prop_map(Wild::Raw),
        1 => any::<Index>().prop_map(Wild::Copy),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z]{1,2}",
        Just("data".to_owned()),
        Just("result".to_owned()),
        Just("stream".to_owned()),
        Just("topic".to_owned()),
        Just("e".to_owned()),
        Just("u".to_owned()),
        Just("pu".to_owned()),
        Just("status".to_owned()),
        Just("code".to_owned()),
        Just("retCode".to_owned()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        8 => (any::<Index>(), wild()).prop_map(|(at, w)| Edit::Replace(at, w)),
        3 => any::<Index>().prop_map(Edit::Remove),
        2 => (any::<Index>(), wild()).prop_map(|(at, w)| Edit::Duplicate(at, w)),
        2 => (any::<Index>(), key()).prop_map(|(at, k)| Edit::Rename(at, k)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        1 => (any::<Index>(), 2u8..50).prop_map(|(at, n)| Edit::Repeat(at, n)),
    ]
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        3 => any::<Index>().prop_map(TextEdit::Truncate),
        3 => (any::<Index>(), 1u8..=255).prop_map(|(at, x)| TextEdit::Flip(at, x)),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, b)| TextEdit::Insert(at, b)),
        2 => (any::<Index>(), 1u8..64).prop_map(|(at, n)| TextEdit::Delete(at, n)),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(TextEdit::Garbage),
    ]
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<Index>(),
        prop::collection::vec(edit(), 0..4),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(text_edit(), 1..3),
        ],
    )
        .prop_map(|(seed, edits, text)| Mutation { seed, edits, text })
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Item(usize),
}

/// Every node's path, root first, parents before children (iteratively: a seed is shallow,
/// but nothing here should recurse on what it is given).
fn paths(root: &Value) -> Vec<Vec<Seg>> {
    let mut out = Vec::new();
    let mut stack = vec![Vec::new()];
    while let Some(path) = stack.pop() {
        let Some(node) = at(root, &path) else {
            continue;
        };
        match node {
            Value::Object(map) => {
                for k in map.keys().rev() {
                    let mut child = path.clone();
                    child.push(Seg::Key(k.clone()));
                    stack.push(child);
                }
            }
            Value::Array(items) => {
                for k in (0..items.len()).rev() {
                    let mut child = path.clone();
                    child.push(Seg::Item(k));
                    stack.push(child);
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn at<'a>(mut node: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    for seg in path {
        node = match seg {
            Seg::Key(k) => node.get(k.as_str())?,
            Seg::Item(i) => node.get(*i)?,
        };
    }
    Some(node)
}

fn at_mut<'a>(mut node: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    for seg in path {
        node = match seg {
            Seg::Key(k) => node.get_mut(k.as_str())?,
            Seg::Item(i) => node.get_mut(*i)?,
        };
    }
    Some(node)
}

/// The message as edited, and the raw texts its marker strings stand for.
struct Doc {
    root: Value,
    /// (marker, raw JSON text) pairs.
    raws: Vec<(String, String)>,
}

impl Doc {
    fn marker(&mut self, raw: String) -> String {
        let marker = format!("~~fuzz{}~~", self.raws.len());
        self.raws.push((marker.clone(), raw));
        marker
    }

    fn pick(&self, index: &Index) -> Vec<Seg> {
        let all = paths(&self.root);
        all[index.index(all.len())].clone()
    }

    fn value_of(&mut self, wild: &Wild) -> Value {
        match wild {
            Wild::Value(v) => v.clone(),
            Wild::Raw(raw) => Value::String(self.marker(raw.render())),
            Wild::Copy(index) => {
                let path = self.pick(index);
                at(&self.root, &path).cloned().unwrap_or(Value::Null)
            }
        }
    }

    fn apply(&mut self, edit: &Edit) {
        match edit {
            Edit::Replace(index, wild) => {
                let path = self.pick(index);
                let value = self.value_of(wild);
                if let Some(node) = at_mut(&mut self.root, &path) {
                    *node = value;
                }
            }
            Edit::Remove(index) => {
                let mut path = self.pick(index);
                let Some(last) = path.pop() else {
                    return;
                };
                match (at_mut(&mut self.root, &path), last) {
                    (Some(Value::Object(map)), Seg::Key(k)) => {
                        map.remove(&k);
                    }
                    (Some(Value::Array(items)), Seg::Item(i)) if i < items.len() => {
                        items.remove(i);
                    }
                    _ => {}
                }
            }
            Edit::Duplicate(index, wild) => {
                let mut path = self.pick(index);
                if !at(&self.root, &path).is_some_and(Value::is_object) {
                    path.pop();
                }
                let key = match at(&self.root, &path) {
                    Some(Value::Object(map)) if !map.is_empty() => {
                        let keys: Vec<&String> = map.keys().collect();
                        keys[index.index(keys.len())].clone()
                    }
                    _ => return,
                };
                let value = self.value_of(wild);
                let marker = self.marker(Value::String(key).to_string());
                if let Some(Value::Object(map)) = at_mut(&mut self.root, &path) {
                    map.insert(marker, value);
                }
            }
            Edit::Rename(index, name) => {
                let mut path = self.pick(index);
                let Some(Seg::Key(old)) = path.pop() else {
                    return;
                };
                if let Some(Value::Object(map)) = at_mut(&mut self.root, &path)
                    && let Some(value) = map.remove(&old)
                {
                    map.insert(name.clone(), value);
                }
            }
            Edit::Swap(a, b) => {
                let (pa, pb) = (self.pick(a), self.pick(b));
                if pa.starts_with(&pb) || pb.starts_with(&pa) {
                    return;
                }
                let va = at(&self.root, &pa).cloned();
                let vb = at(&self.root, &pb).cloned();
                if let (Some(va), Some(vb)) = (va, vb) {
                    if let Some(node) = at_mut(&mut self.root, &pa) {
                        *node = vb;
                    }
                    if let Some(node) = at_mut(&mut self.root, &pb) {
                        *node = va;
                    }
                }
            }
            Edit::Repeat(index, times) => {
                let path = self.pick(index);
                if let Some(Value::Array(items)) = at_mut(&mut self.root, &path)
                    && !items.is_empty()
                {
                    let original = items.clone();
                    for _ in 1..*times {
                        if items.len() + original.len() > 2_000 {
                            break;
                        }
                        items.extend(original.iter().cloned());
                    }
                }
            }
        }
    }

    fn text(&self) -> String {
        let mut text = self.root.to_string();
        // Markers are plain ASCII, so each is written as itself in quotes.
        for (marker, raw) in &self.raws {
            text = text.replace(&format!("\"{marker}\""), raw);
        }
        text
    }
}

fn edit_bytes(bytes: &mut Vec<u8>, edit: &TextEdit) {
    match edit {
        TextEdit::Truncate(at) => {
            let cut = at.index(bytes.len() + 1);
            bytes.truncate(cut);
        }
        TextEdit::Flip(at, x) if !bytes.is_empty() => {
            let k = at.index(bytes.len());
            bytes[k] ^= x;
        }
        TextEdit::Flip(..) => {}
        TextEdit::Insert(at, new) => {
            let k = at.index(bytes.len() + 1);
            bytes.splice(k..k, new.iter().copied());
        }
        TextEdit::Delete(at, n) => {
            let k = at.index(bytes.len() + 1);
            let end = (k + usize::from(*n)).min(bytes.len());
            bytes.drain(k..end);
        }
        TextEdit::Garbage(new) => *bytes = new.clone(),
    }
}

impl Mutation {
    /// The mutated message as bytes (REST bodies are bytes) and the seed's name.
    pub fn bytes<'a>(&self, seeds: &'a [Seed]) -> (&'a str, Vec<u8>) {
        let seed = &seeds[self.seed.index(seeds.len())];
        let text = if self.edits.is_empty() {
            // The seed as recorded: key order and spacing as the venue wrote them (fast paths).
            seed.text.clone()
        } else {
            let mut doc = Doc {
                root: seed.value.clone(),
                raws: Vec::new(),
            };
            for edit in &self.edits {
                doc.apply(edit);
            }
            doc.text()
        };
        let mut bytes = text.into_bytes();
        for edit in &self.text {
            edit_bytes(&mut bytes, edit);
        }
        (&seed.name, bytes)
    }

    /// The mutated message as a WebSocket text frame (always UTF-8).
    pub fn text(&self, seeds: &[Seed]) -> String {
        let (_, bytes) = self.bytes(seeds);
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}
