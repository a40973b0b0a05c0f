//! Test-only generation of sample wire values from a seed, so property tests can round-trip
//! every message kind without a hand-written strategy per type.
//!
//! Invariant: generation is deterministic for a seed and bounded: collections hold at most
//! [`SAMPLE_COLLECTION_MAX`] elements and documents nest at most [`SAMPLE_DEPTH_MAX`] levels.
//! Does not generate only valid requests: samples exercise the encoding, not validation.

use std::collections::BTreeMap;

use crate::number::Number;
use crate::value::AttributeValue;

/// Most elements in a sampled collection.
pub const SAMPLE_COLLECTION_MAX: usize = 3;
/// Deepest sampled document nesting.
pub const SAMPLE_DEPTH_MAX: u32 = 3;

/// A seeded generator (splitmix64).
pub struct Gen {
    state: u64,
    depth: u32,
}

impl Gen {
    /// A generator for one seed.
    pub fn new(seed: u64) -> Gen {
        Gen {
            state: seed,
            depth: 0,
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `bound` (> 0).
    pub fn below(&mut self, bound: usize) -> usize {
        assert!(bound > 0, "below(0)");
        (self.next_u64() % bound as u64) as usize
    }

    fn len(&mut self) -> usize {
        self.below(SAMPLE_COLLECTION_MAX + 1)
    }
}

/// A type that can produce sample values.
pub trait Sample: Sized {
    /// One sample value.
    fn sample(g: &mut Gen) -> Self;
}

macro_rules! sample_int {
    ($($ty:ty),*) => {$(
        impl Sample for $ty {
            fn sample(g: &mut Gen) -> $ty {
                // Mix small values (common) with full-range ones (edge cases).
                if g.below(2) == 0 { (g.next_u64() % 100) as $ty } else { g.next_u64() as $ty }
            }
        }
    )*};
}
sample_int!(u8, u16, u32, u64, i16, i32, i64);

impl Sample for bool {
    fn sample(g: &mut Gen) -> bool {
        g.below(2) == 1
    }
}

impl Sample for String {
    fn sample(g: &mut Gen) -> String {
        const ALPHABET: &[&str] = &["a", "b", "Z", "0", "_", " ", "é", "€", "\u{0}", "😀"];
        (0..g.below(6))
            .map(|_| ALPHABET[g.below(ALPHABET.len())])
            .collect()
    }
}

impl<T: Sample> Sample for Vec<T> {
    fn sample(g: &mut Gen) -> Vec<T> {
        (0..g.len()).map(|_| T::sample(g)).collect()
    }
}

impl<T: Sample> Sample for Option<T> {
    fn sample(g: &mut Gen) -> Option<T> {
        if g.below(2) == 0 {
            None
        } else {
            Some(T::sample(g))
        }
    }
}

impl<T: Sample> Sample for Box<T> {
    fn sample(g: &mut Gen) -> Box<T> {
        Box::new(T::sample(g))
    }
}

impl<K: Sample + Ord, V: Sample> Sample for BTreeMap<K, V> {
    fn sample(g: &mut Gen) -> BTreeMap<K, V> {
        (0..g.len()).map(|_| (K::sample(g), V::sample(g))).collect()
    }
}

impl Sample for Number {
    fn sample(g: &mut Gen) -> Number {
        let digits = 1 + g.below(38) as u32;
        let coefficient = u128::from(g.next_u64()) * u128::from(g.next_u64());
        let coefficient = coefficient % 10u128.pow(digits);
        let exponent = g.below(292) as i32 - 167;
        Number::from_parts(g.below(2) == 0, coefficient, exponent).unwrap_or(Number::ZERO)
    }
}

impl Sample for AttributeValue {
    fn sample(g: &mut Gen) -> AttributeValue {
        let kinds = if g.depth >= SAMPLE_DEPTH_MAX { 8 } else { 10 };
        match g.below(kinds) {
            0 => AttributeValue::S(String::sample(g)),
            1 => AttributeValue::N(Number::sample(g)),
            2 => AttributeValue::B(Vec::sample(g)),
            3 => AttributeValue::Bool(bool::sample(g)),
            4 => AttributeValue::Null,
            5 => AttributeValue::Ss(Vec::sample(g)),
            6 => AttributeValue::Ns(Vec::sample(g)),
            7 => AttributeValue::Bs(Vec::sample(g)),
            8 => {
                g.depth += 1;
                let map = BTreeMap::sample(g);
                g.depth -= 1;
                AttributeValue::M(map)
            }
            _ => {
                g.depth += 1;
                let list = Vec::sample(g);
                g.depth -= 1;
                AttributeValue::L(list)
            }
        }
    }
}
