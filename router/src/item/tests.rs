//! Round trips between Rust values and items, exact numbers, sets and the error cases.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use shoal_wire::{AttributeValue, Number};

use super::*;

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(text).unwrap())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.into())
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Dot,
    Circle(u32),
    Rect { w: u32, h: u32 },
    Pair(i8, i8),
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Everything {
    id: String,
    count: u64,
    delta: i64,
    big: i128,
    ratio: f64,
    exact: ExactNumber,
    flag: bool,
    nothing: Option<String>,
    maybe: Option<u8>,
    tags: Vec<String>,
    scores: BTreeMap<String, i32>,
    blob: Binary,
    names: StringSet,
    primes: NumberSet,
    keys: BinarySet,
    shapes: Vec<Shape>,
    unit: (),
}

fn everything() -> Everything {
    Everything {
        id: "alice".into(),
        count: u64::MAX,
        delta: i64::MIN,
        big: -99_999_999_999_999_999_999_999_999_999_999_999_999,
        ratio: 0.1,
        exact: ExactNumber(Number::parse("12345678901234567890123456789012345678").unwrap()),
        flag: true,
        nothing: None,
        maybe: Some(7),
        tags: vec!["a".into(), "b".into()],
        scores: BTreeMap::from([("x".into(), -1)]),
        blob: Binary(vec![0, 1, 255]),
        names: StringSet(BTreeSet::from(["p".into(), "q".into()])),
        primes: NumberSet(BTreeSet::from([
            Number::from(2),
            Number::parse("3.5").unwrap(),
        ])),
        keys: BinarySet(BTreeSet::from([vec![1], vec![2, 3]])),
        shapes: vec![
            Shape::Dot,
            Shape::Circle(3),
            Shape::Rect { w: 1, h: 2 },
            Shape::Pair(-1, 1),
        ],
        unit: (),
    }
}

#[test]
fn a_struct_maps_to_the_documented_types_and_back() {
    let item = to_item(&everything()).unwrap();
    assert_eq!(item["id"], s("alice"));
    assert_eq!(item["count"], n("18446744073709551615"));
    assert_eq!(item["delta"], n("-9223372036854775808"));
    assert_eq!(item["ratio"], n("0.1"));
    assert_eq!(item["exact"], n("12345678901234567890123456789012345678"));
    assert_eq!(item["flag"], AttributeValue::Bool(true));
    assert_eq!(item["nothing"], AttributeValue::Null);
    assert_eq!(item["tags"], AttributeValue::L(vec![s("a"), s("b")]));
    assert_eq!(item["blob"], AttributeValue::B(vec![0, 1, 255]));
    assert_eq!(
        item["names"],
        AttributeValue::Ss(vec!["p".into(), "q".into()])
    );
    assert_eq!(item["primes"].type_name(), "NS");
    assert_eq!(item["keys"].type_name(), "BS");
    assert_eq!(item["unit"], AttributeValue::Null);
    let AttributeValue::L(shapes) = &item["shapes"] else {
        panic!("list")
    };
    assert_eq!(shapes[0], s("Dot"));
    assert_eq!(
        shapes[1],
        AttributeValue::M(BTreeMap::from([("Circle".into(), n("3"))]))
    );
    let back: Everything = from_item(&item).unwrap();
    assert_eq!(back, everything());
}

#[test]
fn numbers_stay_exact_where_asked() {
    // 38 digits survive as ExactNumber; read as f64 they would not.
    let value = n("0.12345678901234567890123456789012345678");
    let exact: ExactNumber = from_value(&value).unwrap();
    assert_eq!(AttributeValue::N(exact.0), value);
    assert_eq!(to_value(&exact).unwrap(), value);
    // Integers come back as integers of any width that holds them.
    assert_eq!(
        from_value::<u64>(&n("18446744073709551615")).unwrap(),
        u64::MAX
    );
    assert_eq!(from_value::<i128>(&n("1e30")).unwrap(), 10i128.pow(30));
    assert!(from_value::<u8>(&n("256")).is_err());
    assert!(from_value::<u32>(&n("1.5")).is_err());
    assert_eq!(from_value::<f64>(&n("1.5")).unwrap(), 1.5);
    // Floats become the shortest decimal that reads back the same.
    assert_eq!(to_value(&0.1f64).unwrap(), n("0.1"));
    assert_eq!(to_value(&1e100f64).unwrap(), n("1e100"));
    assert!(to_value(&1e300f64).is_err(), "beyond DynamoDB's range");
    assert_eq!(to_value(&0.1f32).unwrap(), n("0.1"));
}

#[test]
fn conversion_errors_are_typed() {
    let error = |result: Result<AttributeValue, crate::Error>| match result {
        Err(crate::Error::Conversion(message)) => message,
        other => panic!("expected a conversion error, got {other:?}"),
    };
    assert!(error(to_value(&f64::NAN)).contains("not a DynamoDB number"));
    assert!(error(to_value(&i128::MAX)).contains("38 significant digits"));
    assert!(error(to_value(&StringSet::default())).contains("empty set"));
    let bad_key = HashMap::from([(vec![1u8], 1)]);
    assert!(error(to_value(&bad_key)).contains("map keys"));
    assert!(matches!(to_item(&5), Err(crate::Error::Conversion(_))));
    let wrong = to_item(&BTreeMap::from([("count", "x")])).unwrap();
    #[derive(Deserialize, Debug)]
    struct Counter {
        #[allow(dead_code)]
        count: u64,
    }
    assert!(matches!(
        from_item::<Counter>(&wrong),
        Err(crate::Error::Conversion(_))
    ));
}

#[test]
fn sets_read_as_sequences_and_maps_with_integer_keys() {
    let set = AttributeValue::Ss(vec!["b".into(), "a".into()]);
    let names: Vec<String> = from_value(&set).unwrap();
    assert_eq!(names, ["b", "a"]);
    let numbers: Vec<i64> = from_value(&AttributeValue::Ns(vec![Number::from(4)])).unwrap();
    assert_eq!(numbers, [4]);
    let map = to_value(&BTreeMap::from([(1u32, true)])).unwrap();
    assert_eq!(
        map,
        AttributeValue::M(BTreeMap::from([("1".into(), AttributeValue::Bool(true))]))
    );
    let map = AttributeValue::M(BTreeMap::from([("k".into(), s("v"))]));
    let borrowed: BTreeMap<&str, &str> = from_value(&map).unwrap();
    assert_eq!(borrowed["k"], "v");
}
