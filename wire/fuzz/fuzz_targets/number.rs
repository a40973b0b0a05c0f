//! Fuzz target: arbitrary text into `Number::parse`, and arithmetic on what parses.
//! Invariants checked: no panic; the canonical text parses back to the same number; a sum
//! minus its addend gives the number back whenever both operations succeed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::Number;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (left, right) = text.split_once(' ').unwrap_or((text, "1"));
    let Ok(a) = Number::parse(left) else { return };
    assert_eq!(
        Number::parse(&a.to_string()),
        Ok(a),
        "canonical text of {left:?}"
    );
    let Ok(b) = Number::parse(right) else { return };
    assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
    if let Ok(sum) = a.checked_add(&b) {
        if let Ok(back) = sum.checked_sub(&b) {
            assert_eq!(back, a, "{a} + {b} - {b}");
        }
    }
});
