//! A bounded arbitrary-input fuzz run inside `cargo test`: mutates a corpus of valid
//! expressions (byte flips, splices, token insertions, truncations, deep nesting) and feeds
//! every parser, the evaluator and the update applier. The budget is fixed (cases and
//! wall-clock time, whichever ends first) and the generator is seeded, so a failure prints the
//! seed and case to replay. The cargo-fuzz target `wire/fuzz/fuzz_targets/expr.rs` runs the
//! same `exercise` on unbounded input.

use std::time::{Duration, Instant};

use super::*;

const CORPUS: [&str; 14] = [
    "a = :v AND attribute_exists(#n.b[2])",
    "size(l) > :n OR NOT begins_with(s, :v)",
    "a BETWEEN :n AND :m",
    "a IN (:v, :n, :m)",
    "contains(ss, :v) and attribute_type(a, :t)",
    "SET a = :v, b.c[1] = if_not_exists(b.c[1], :n) + :m REMOVE x[0], y ADD n :n DELETE ss :set",
    "SET l = list_append(if_not_exists(l, :list), :list)",
    "REMOVE l[1], l[3].x, m.k",
    "pk = :v AND sk BETWEEN :n AND :m",
    "pk = :v AND begins_with(sk, :v)",
    "a, b.c[1], #n",
    "((a = :v))",
    "#n.#n.#n = :v",
    "SET #n = :v",
];

const SPLICES: [&str; 16] = [
    "(", ")", " AND ", " OR ", "NOT ", ",", ".", "[", "]", "[0]", ":", "#", "size(", "=", " + ",
    "SET ",
];

/// Deterministic xorshift generator (no dependency for ten lines).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng) -> String {
    let mut text = CORPUS[rng.below(CORPUS.len())].as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(text.len() + 1);
        match rng.below(6) {
            0 if !text.is_empty() => {
                let at = at.min(text.len() - 1);
                text[at] ^= 1 << rng.below(8);
            }
            1 => text
                .splice(at..at, SPLICES[rng.below(SPLICES.len())].bytes())
                .for_each(drop),
            2 => text.truncate(at),
            3 => {
                let other = CORPUS[rng.below(CORPUS.len())].as_bytes();
                text.splice(at..at, other[..rng.below(other.len())].iter().copied())
                    .for_each(drop);
            }
            4 => {
                let depth = rng.below(400);
                let open = "(".repeat(depth);
                text.splice(at..at, open.bytes()).for_each(drop);
            }
            _ => text.splice(at..at, [rng.next() as u8]).for_each(drop),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Runs everything on one input; must never panic.
pub(crate) fn exercise(text: &str) {
    let name_map = names(&[("#n", "n")]);
    let value_map = item(&[
        (":v", s("x")),
        (":n", n("1")),
        (":m", n("5")),
        (":t", s("S")),
        (":list", l(vec![n("1")])),
        (":set", ss(&["x"])),
    ]);
    let row = item(&[
        ("a", s("x")),
        ("b", m(&[("c", l(vec![n("1"), n("2")]))])),
        ("l", l(vec![n("0"), m(&[("x", n("1"))])])),
        ("ss", ss(&["x", "y"])),
        ("n", m(&[("n", m(&[("n", s("x"))]))])),
    ]);
    let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
    if let Ok(condition) = parse_condition(text, ExpressionKind::Condition, &mut subs) {
        let _ = condition.evaluate(&row);
    }
    if let Ok(update) = parse_update(text, &mut subs) {
        let key = item(&[("pk", s("k"))]);
        if let Ok(outcome) = update.apply(Some(&row), &key) {
            let _ = (outcome.updated_old(Some(&row)), outcome.updated_new());
        }
        let _ = update.apply(None, &key);
    }
    if let Ok(projection) = parse_projection(text, &mut subs) {
        let _ = projection.apply(&row);
    }
    let _ = parse_key_condition(text, &mut subs);
    let _ = subs.check_all_used();
}

#[test]
fn fuzz_mutated_expressions_within_budget() {
    const CASES_MAX: u64 = 20_000;
    const TIME_MAX: Duration = Duration::from_secs(2);
    // Longer runs: SHOAL_EXPR_FUZZ_SECONDS=600 SHOAL_EXPR_FUZZ_SEED=7 cargo test ... fuzz_mutated
    let seconds = std::env::var("SHOAL_EXPR_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let (cases_max, time_max) = match seconds {
        Some(seconds) => (u64::MAX, Duration::from_secs(seconds)),
        None => (CASES_MAX, TIME_MAX),
    };
    let seed = std::env::var("SHOAL_EXPR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    eprintln!("expr fuzz: seed {seed}");
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut case = 0u64;
    while case < cases_max && started.elapsed() < time_max {
        let text = mutate(&mut rng);
        let outcome = std::panic::catch_unwind(|| exercise(&text));
        assert!(
            outcome.is_ok(),
            "seed {seed} case {case} panicked on {text:?}"
        );
        case += 1;
    }
    eprintln!("expr fuzz: {case} cases in {:?}", started.elapsed());
}

/// The fixed seed of the in-test fuzz run.
const SEED: u64 = 0x5eed_0f5a_0a1d_beef;
