//! A linearizability checker for single-key register histories (put, get, conditional put),
//! in the manner of Wing & Gong with Lowe's memoisation (the search Knossos and Porcupine
//! run): find an order of the operations that respects real time (an operation that returned
//! before another was invoked comes first) and the register's semantics.
//!
//! An operation whose outcome is unknown (a timeout, a lost connection) may have taken
//! effect at any time after its invocation, or never: it is given an infinite return time and
//! need not be placed. Reads that failed are left out by the caller.

use std::collections::HashSet;

/// What an operation did, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Wrote the value.
    Put(i64),
    /// Read the value (`None`: the item did not exist).
    Get(Option<i64>),
    /// Wrote `new` if the value was `expect`; `ok` says whether the condition held
    /// (`None`: outcome unknown).
    Cas {
        /// The value the condition required.
        expect: i64,
        /// The value written if it held.
        new: i64,
        /// Whether it held, if known.
        ok: Option<bool>,
    },
}

/// One operation of a history.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Invocation time (any monotonic unit).
    pub call: u64,
    /// Return time; `u64::MAX` when the outcome is unknown.
    pub ret: u64,
    /// What it did.
    pub kind: OpKind,
}

impl Op {
    fn known(&self) -> bool {
        self.ret != u64::MAX
    }
}

/// The register after `op` if `op` may take effect in state `state`.
fn step(state: Option<i64>, op: &Op) -> Option<Option<i64>> {
    match op.kind {
        OpKind::Put(v) => Some(Some(v)),
        OpKind::Get(v) => (v == state).then_some(state),
        OpKind::Cas { expect, new, ok } => {
            let holds = state == Some(expect);
            match ok {
                Some(true) => holds.then_some(Some(new)),
                Some(false) => (!holds).then_some(state),
                None => Some(if holds { Some(new) } else { state }),
            }
        }
    }
}

/// Whether `ops` (one key's history, starting from an absent item) is linearizable. Gives up
/// (returns `None`) after `budget` search steps.
pub fn check(ops: &[Op], budget: u64) -> Option<bool> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| ops[i].call);
    let mut search = Search {
        ops,
        order,
        seen: HashSet::new(),
        steps: 0,
        budget,
    };
    let mut placed = vec![false; ops.len()];
    search.dfs(None, &mut placed)
}

struct Search<'a> {
    ops: &'a [Op],
    order: Vec<usize>,
    seen: HashSet<(Vec<bool>, Option<i64>)>,
    steps: u64,
    budget: u64,
}

impl Search<'_> {
    fn dfs(&mut self, state: Option<i64>, placed: &mut Vec<bool>) -> Option<bool> {
        self.steps += 1;
        if self.steps > self.budget {
            return None;
        }
        // Done once every operation with a known outcome is placed.
        let pending: Vec<usize> = self.order.iter().copied().filter(|&i| !placed[i]).collect();
        if pending.iter().all(|&i| !self.ops[i].known()) {
            return Some(true);
        }
        if !self.seen.insert((placed.clone(), state)) {
            return Some(false);
        }
        // An operation may go next only if it was invoked before every unplaced operation
        // returned.
        let horizon = pending
            .iter()
            .map(|&i| self.ops[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        for &i in &pending {
            let op = &self.ops[i];
            if op.call > horizon {
                break;
            }
            let Some(next) = step(state, op) else {
                continue;
            };
            placed[i] = true;
            let found = self.dfs(next, placed);
            placed[i] = false;
            match found {
                Some(true) => return Some(true),
                None => return None,
                Some(false) => {}
            }
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: u64, ret: u64, kind: OpKind) -> Op {
        Op { call, ret, kind }
    }

    #[test]
    fn accepts_linearizable_and_rejects_stale_histories() {
        use OpKind::*;
        // Concurrent put and get: the get may see either value.
        let ok = [
            op(0, 10, Put(1)),
            op(5, 20, Get(Some(1))),
            op(15, 30, Get(Some(1))),
        ];
        assert_eq!(check(&ok, 10_000), Some(true));
        let also_ok = [op(0, 10, Put(1)), op(5, 20, Get(None))];
        assert_eq!(check(&also_ok, 10_000), Some(true));
        // A read after a completed write must not see the old value.
        let stale = [
            op(0, 10, Put(1)),
            op(11, 20, Put(2)),
            op(21, 30, Get(Some(1))),
        ];
        assert_eq!(check(&stale, 10_000), Some(false));
        // A lost acknowledged write: read sees nothing after the put returned.
        let lost = [op(0, 10, Put(7)), op(20, 30, Get(None))];
        assert_eq!(check(&lost, 10_000), Some(false));
        // An unknown put may take effect late, or never.
        let late = [
            op(0, u64::MAX, Put(3)),
            op(50, 60, Get(None)),
            op(70, 80, Get(Some(3))),
        ];
        assert_eq!(check(&late, 10_000), Some(true));
        // But it cannot take effect and then un-happen.
        let flicker = [
            op(0, u64::MAX, Put(3)),
            op(50, 60, Get(Some(3))),
            op(70, 80, Get(None)),
        ];
        assert_eq!(check(&flicker, 10_000), Some(false));
        // Conditional puts: a success needs the expected value, a failure its absence.
        let cas = [
            op(0, 10, Put(1)),
            op(
                20,
                30,
                Cas {
                    expect: 1,
                    new: 2,
                    ok: Some(true),
                },
            ),
            op(
                40,
                50,
                Cas {
                    expect: 1,
                    new: 3,
                    ok: Some(false),
                },
            ),
            op(60, 70, Get(Some(2))),
        ];
        assert_eq!(check(&cas, 10_000), Some(true));
        let double = [
            op(0, 10, Put(1)),
            op(
                20,
                30,
                Cas {
                    expect: 1,
                    new: 2,
                    ok: Some(true),
                },
            ),
            op(
                40,
                50,
                Cas {
                    expect: 1,
                    new: 3,
                    ok: Some(true),
                },
            ),
        ];
        assert_eq!(check(&double, 10_000), Some(false));
    }
}
