//! Criterion benches of shoal-wire's hot paths: a 1 KB PutItem frame (encode, decode +
//! validate + access, owned deserialisation), storage-key encoding, the partition hash, and
//! number parsing and addition. Also prints the allocation count of the decode path, whose
//! target is zero (zero-copy access to an archived request).
//!
//! Run with `cargo bench -p shoal-wire`. Does not assert on timing (CONVENTIONS §12).

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use shoal_wire::cluster::{Epoch, TableId};
use shoal_wire::frame::{Decoded, decode_frame, encode_frame, encode_frame_into};
use shoal_wire::key::{decode_key, encode_key, partition_hash};
use shoal_wire::message::PutItemRequest;
use shoal_wire::value::item_size;
use shoal_wire::{AttributeValue, Item, Number};

/// An item of about 1 KB in DynamoDB's size accounting, shaped like a user profile.
fn item_1kb() -> Item {
    let n = |text: &str| AttributeValue::N(Number::parse(text).expect("valid number"));
    let s = |text: &str| AttributeValue::S(text.to_owned());
    let mut profile = BTreeMap::new();
    for index in 0..8 {
        profile.insert(format!("field{index}"), s(&"p".repeat(60)));
    }
    let mut item = Item::new();
    item.insert("pk".into(), s("user#0000042"));
    item.insert("sk".into(), n("1700000000123"));
    item.insert("name".into(), s("Ada Lovelace"));
    item.insert("email".into(), s("ada@example.com"));
    item.insert("active".into(), AttributeValue::Bool(true));
    item.insert("score".into(), n("1234.5678"));
    item.insert(
        "tags".into(),
        AttributeValue::Ss(vec!["a".into(), "bb".into(), "ccc".into()]),
    );
    item.insert(
        "history".into(),
        AttributeValue::L((0..10).map(|i| n(&i.to_string())).collect()),
    );
    item.insert("profile".into(), AttributeValue::M(profile));
    item.insert("avatar".into(), AttributeValue::B(vec![0xAB; 300]));
    item
}

fn put_request() -> PutItemRequest {
    PutItemRequest {
        table_name: "Users".into(),
        item: item_1kb(),
        condition_expression: Some("attribute_not_exists(pk)".into()),
        expression_attribute_names: None,
        expression_attribute_values: None,
        return_values: None,
        return_values_on_condition_check_failure: None,
        return_consumed_capacity: None,
        return_item_collection_metrics: None,
        expected: None,
        conditional_operator: None,
        map_epoch: Epoch(3),
    }
}

fn decode_and_access(bytes: &[u8]) -> usize {
    let Ok(Decoded::Frame(frame)) = decode_frame(bytes) else {
        panic!("bench frame must decode");
    };
    let request = frame.access::<PutItemRequest>().expect("valid payload");
    request.item.len() + request.table_name.len()
}

fn bench_frames(c: &mut Criterion) {
    let request = put_request();
    let bytes = encode_frame(7, &request).expect("encodes");
    println!(
        "1 KB item: DynamoDB size {} bytes, frame {} bytes",
        item_size(&request.item),
        bytes.len()
    );
    report_allocations(&request, &bytes);
    let mut buffer = Vec::with_capacity(4096);
    c.bench_function("frame/encode_put_1kb", |b| {
        b.iter(|| {
            buffer.clear();
            encode_frame_into(&mut buffer, 7, black_box(&request)).expect("encodes");
            buffer.len()
        })
    });
    c.bench_function("frame/decode_validate_access_put_1kb", |b| {
        b.iter(|| decode_and_access(black_box(&bytes)))
    });
    c.bench_function("frame/encode_validate_access_put_1kb", |b| {
        b.iter(|| {
            buffer.clear();
            encode_frame_into(&mut buffer, 7, black_box(&request)).expect("encodes");
            decode_and_access(&buffer)
        })
    });
    c.bench_function("frame/deserialize_owned_put_1kb", |b| {
        b.iter(|| {
            let Ok(Decoded::Frame(frame)) = decode_frame(black_box(&bytes)) else {
                panic!("bench frame must decode");
            };
            frame
                .decode::<PutItemRequest>()
                .expect("valid payload")
                .item
                .len()
        })
    });
}

fn report_allocations(request: &PutItemRequest, bytes: &[u8]) {
    const ROUNDS: u64 = 1000;
    let decode = allocation_counter::measure(|| {
        for _ in 0..ROUNDS {
            black_box(decode_and_access(black_box(bytes)));
        }
    });
    let mut buffer = Vec::with_capacity(4096);
    let encode = allocation_counter::measure(|| {
        for _ in 0..ROUNDS {
            buffer.clear();
            encode_frame_into(&mut buffer, 7, black_box(request)).expect("encodes");
        }
    });
    println!(
        "allocations per frame: decode+validate+access {}, encode into a reused buffer {}",
        decode.count_total as f64 / ROUNDS as f64,
        encode.count_total as f64 / ROUNDS as f64
    );
}

fn bench_keys(c: &mut Criterion) {
    let pk = AttributeValue::S("user#0000042".into());
    let sk = AttributeValue::N(Number::parse("1700000000123").expect("valid"));
    c.bench_function("key/partition_hash_s12", |b| {
        b.iter(|| partition_hash(black_box(&pk)))
    });
    c.bench_function("key/encode_s12_n13", |b| {
        b.iter(|| encode_key(TableId(9), black_box(&pk), Some(black_box(&sk))))
    });
    let key = encode_key(TableId(9), &pk, Some(&sk)).expect("encodes");
    c.bench_function("key/decode_s12_n13", |b| {
        b.iter(|| decode_key(black_box(&key)))
    });
}

fn bench_numbers(c: &mut Criterion) {
    c.bench_function("number/parse_12_digits", |b| {
        b.iter(|| Number::parse(black_box("-12345.6789012")))
    });
    let a = Number::parse("12345.6789012").expect("valid");
    let one = Number::parse("0.001").expect("valid");
    c.bench_function("number/checked_add", |b| {
        b.iter(|| black_box(&a).checked_add(&one))
    });
    c.bench_function("number/to_string", |b| b.iter(|| black_box(&a).to_string()));
}

criterion_group!(benches, bench_frames, bench_keys, bench_numbers);
criterion_main!(benches);
