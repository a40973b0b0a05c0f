//! Property tests: the parsers never panic; evaluation never panics; simple conditions agree
//! with a naive model; an update followed by a read sees the written value.

use proptest::prelude::*;

use super::*;

const TOKENS: [&str; 34] = [
    "a",
    "b.c",
    "l[1]",
    "#n",
    ":v",
    ":w",
    "(",
    ")",
    "=",
    "<>",
    "<",
    ">=",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "size(",
    "contains(",
    "begins_with(",
    "attribute_exists(",
    ",",
    "[0]",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "+",
    "-",
    "if_not_exists(",
    "list_append(",
    ".",
    "status",
    "((",
];

/// `cases` by default; `PROPTEST_CASES` overrides it for longer runs.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS.to_vec()), 0..24)
        .prop_map(|tokens| tokens.join(" "))
}

/// Runs every parser on `text` with a fixed set of placeholders; returns any conditions.
fn parse_everything(text: &str) -> Vec<Condition> {
    let name_map = names(&[("#n", "a")]);
    let value_map = item(&[(":v", n("1")), (":w", ss(&["x"]))]);
    let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
    let mut conditions = Vec::new();
    if let Ok(condition) = parse_condition(text, ExpressionKind::Filter, &mut subs) {
        conditions.push(condition);
    }
    let _ = parse_update(text, &mut subs);
    let _ = parse_projection(text, &mut subs);
    let _ = parse_key_condition(text, &mut subs);
    let _ = subs.check_all_used();
    conditions
}

fn leaf() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        (-2i64..4).prop_map(|v| AttributeValue::N(Number::from(v))),
        proptest::sample::select(vec!["", "x", "y", "xy"]).prop_map(s),
        Just(ss(&["x"])),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
    ]
}

fn sample_item() -> impl Strategy<Value = Item> {
    let map = proptest::collection::btree_map(
        proptest::sample::select(vec!["a".to_string(), "b".to_string()]),
        leaf(),
        0..3,
    )
    .prop_map(AttributeValue::M);
    let list = proptest::collection::vec(leaf(), 0..3).prop_map(AttributeValue::L);
    (
        proptest::option::of(leaf()),
        proptest::option::of(leaf()),
        proptest::option::of(prop_oneof![map, leaf()]),
        proptest::option::of(prop_oneof![list, leaf()]),
    )
        .prop_map(|(a, b, m, l)| {
            let mut result = Item::new();
            for (name, value) in [("a", a), ("b", b), ("m", m), ("l", l)] {
                if let Some(value) = value {
                    result.insert(name.to_string(), value);
                }
            }
            result
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parsers_never_panic_on_token_soup(text in token_soup(), row in sample_item()) {
        for condition in parse_everything(&text) {
            let _ = condition.evaluate(&row);
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        parse_everything(&String::from_utf8_lossy(&bytes));
    }
}

/// A simple condition and its naive meaning.
#[derive(Clone, Debug)]
enum Simple {
    Compare(&'static str, &'static str, usize),
    Exists(&'static str),
    NotExists(&'static str),
    And(Box<Simple>, Box<Simple>),
    Or(Box<Simple>, Box<Simple>),
    Not(Box<Simple>),
}

const PATHS: [&str; 6] = ["a", "b", "m.a", "m.b", "l[0]", "l[1]"];
const OPS: [&str; 6] = ["=", "<>", "<", "<=", ">", ">="];

fn pool() -> Vec<AttributeValue> {
    vec![n("1"), n("2"), s("x"), s("y"), ss(&["x"])]
}

fn simple() -> impl Strategy<Value = Simple> {
    let path = || proptest::sample::select(PATHS.to_vec());
    let leaf = prop_oneof![
        (path(), proptest::sample::select(OPS.to_vec()), 0usize..5).prop_map(|(p, op, v)| {
            // Ordering operators only take scalar request values.
            let v = if op == "=" || op == "<>" { v } else { v % 4 };
            Simple::Compare(p, op, v)
        }),
        path().prop_map(Simple::Exists),
        path().prop_map(Simple::NotExists),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Simple::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Simple::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|c| Simple::Not(Box::new(c))),
        ]
    })
}

fn render(condition: &Simple) -> String {
    match condition {
        Simple::Compare(path, op, value) => format!("{path} {op} :v{value}"),
        Simple::Exists(path) => format!("attribute_exists({path})"),
        Simple::NotExists(path) => format!("attribute_not_exists({path})"),
        Simple::And(l, r) => format!("({}) AND ({})", render(l), render(r)),
        Simple::Or(l, r) => format!("({}) or ({})", render(l), render(r)),
        Simple::Not(c) => format!("NOT ({})", render(c)),
    }
}

/// Reads a path of `PATHS` by hand.
fn naive_get<'i>(row: &'i Item, path: &str) -> Option<&'i AttributeValue> {
    let (head, rest) = match path.split_once('.') {
        Some((head, key)) => (head, Some(key)),
        None => (path.split('[').next().unwrap_or(path), None),
    };
    let value = row.get(head)?;
    if let Some(key) = rest {
        return match value {
            AttributeValue::M(map) => map.get(key),
            _ => None,
        };
    }
    match (path.find('['), value) {
        (None, _) => Some(value),
        (Some(at), AttributeValue::L(list)) => {
            let index: usize = path[at + 1..path.len() - 1].parse().ok()?;
            list.get(index)
        }
        _ => None,
    }
}

fn naive(condition: &Simple, row: &Item, values: &[AttributeValue]) -> bool {
    match condition {
        Simple::Compare(path, op, index) => {
            let Some(left) = naive_get(row, path) else {
                return *op == "<>";
            };
            let right = &values[*index];
            let order = match (left, right) {
                (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
                (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.cmp(b)),
                _ => None,
            };
            match *op {
                "=" => left == right,
                "<>" => left != right,
                "<" => order == Some(std::cmp::Ordering::Less),
                "<=" => order.is_some_and(|o| o.is_le()),
                ">" => order == Some(std::cmp::Ordering::Greater),
                _ => order.is_some_and(|o| o.is_ge()),
            }
        }
        Simple::Exists(path) => naive_get(row, path).is_some(),
        Simple::NotExists(path) => naive_get(row, path).is_none(),
        Simple::And(l, r) => naive(l, row, values) && naive(r, row, values),
        Simple::Or(l, r) => naive(l, row, values) || naive(r, row, values),
        Simple::Not(c) => !naive(c, row, values),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn simple_conditions_agree_with_a_naive_model(condition in simple(), row in sample_item()) {
        let text = render(&condition);
        let values = pool();
        let value_map: Item =
            values.iter().enumerate().map(|(i, v)| (format!(":v{i}"), v.clone())).collect();
        let mut subs = Substitutions::new(None, Some(&value_map));
        let parsed = parse_condition(&text, ExpressionKind::Condition, &mut subs)
            .map_err(|e| TestCaseError::fail(format!("{text}: {}", e.message)))?;
        prop_assert_eq!(parsed.evaluate(&row), naive(&condition, &row, &values), "{}", text);
    }

    #[test]
    fn a_set_is_read_back(path in proptest::sample::select(vec!["a", "m.a", "m.b", "l[0]", "l[1]"]),
                          value in leaf(), row in sample_item()) {
        let value_map = item(&[(":v", value.clone())]);
        let mut subs = Substitutions::new(None, Some(&value_map));
        let update = parse_update(&format!("SET {path} = :v"), &mut subs).expect("valid update");
        let key = item(&[("pk", s("k"))]);
        let parent_ok = match path.split_once('.') {
            Some(_) => matches!(row.get("m"), Some(AttributeValue::M(_))),
            None if path.starts_with('l') => matches!(row.get("l"), Some(AttributeValue::L(_))),
            None => true,
        };
        let outcome = update.apply(Some(&row), &key);
        prop_assert_eq!(outcome.is_ok(), parent_ok);
        let Ok(outcome) = outcome else { return Ok(()) };
        let new = outcome.item.clone().expect("an existing item stays");
        let appended = path.starts_with('l')
            && naive_get(&row, path).is_none();
        let read = if appended { "contains(l, :v)".to_string() } else { format!("{path} = :v") };
        let mut subs = Substitutions::new(None, Some(&value_map));
        let check = parse_condition(&read, ExpressionKind::Condition, &mut subs).expect("valid");
        prop_assert!(check.evaluate(&new), "{} after SET {}", read, path);
        let projection = parse_projection(path, &mut Substitutions::default()).expect("valid");
        let projected = projection.apply(&new);
        if appended {
            // The value landed at the end of the list, not at the index written.
        } else if path.starts_with('l') {
            // Selected list elements come back compacted, in index order.
            prop_assert_eq!(projected, item(&[("l", l(vec![value.clone()]))]));
        } else {
            prop_assert!(check.evaluate(&projected));
        }
        prop_assert!(outcome.updated_new().is_some());
    }
}
