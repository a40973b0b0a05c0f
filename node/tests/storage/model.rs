//! The engine against a `BTreeMap` model: random batches, reads, scans, checkpoints, clean
//! reopens and simulated crashes (lost and torn unsynced writes) through the fault-injecting
//! disk. After every crash the recovered engine must hold exactly the acknowledged state,
//! and batches in flight at the crash must be wholly present or wholly absent.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use shoal_node::storage::sim::SimDisk;
use shoal_node::storage::wal::WalConfig;
use shoal_node::storage::{Engine, EngineConfig, Op};

use crate::support::run;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A batch as (key index, value spec) pairs; a value spec of None deletes.
type BatchSpec = Vec<(u16, Option<(u8, u16)>)>;

#[derive(Debug, Clone)]
enum Action {
    /// One batch of (key index, value spec) ops; value spec None deletes.
    Commit(BatchSpec),
    Get(u16),
    Scan(u16, u16, bool, u8),
    Checkpoint,
    Reopen,
    Crash(u64),
    /// Several disjoint batches in flight, then a crash after `yields` scheduler turns.
    CrashDuringCommits(Vec<BatchSpec>, u8, u64),
    /// A checkpoint in flight, then a crash after `yields` scheduler turns.
    CrashDuringCheckpoint(u8, u64),
}

/// Keys of varying length, including a few very long ones, in a small space so that
/// operations collide.
fn key(i: u16) -> Vec<u8> {
    let mut k = format!("k{:05}", i).into_bytes();
    match i % 23 {
        0 => k.extend(std::iter::repeat_n(b'x', 3000)),
        5 => k.extend(std::iter::repeat_n(b'y', 200)),
        _ => {}
    }
    k
}

/// Values: mostly small, some above the inline limit (overflow extents).
fn value(seed: u8, len: u16) -> Vec<u8> {
    let len = match seed % 7 {
        0 => 1500 + len as usize * 3,
        1 => 0,
        _ => (len % 300) as usize,
    };
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn ops_of(spec: &[(u16, Option<(u8, u16)>)]) -> Vec<Op> {
    spec.iter()
        .map(|(k, v)| Op {
            key: key(*k),
            value: v.map(|(s, l)| value(s, l)),
        })
        .collect()
}

fn apply(model: &mut Model, ops: &[Op]) {
    for op in ops {
        match &op.value {
            Some(v) => model.insert(op.key.clone(), v.clone()),
            None => model.remove(&op.key),
        };
    }
}

fn config() -> EngineConfig {
    let mut c = EngineConfig::with_cache_bytes(64 * 1024);
    c.wal = WalConfig {
        segment_size: 256 * 1024,
        flush_bytes_max: 32 * 1024,
        pending_bytes_max: 256 * 1024,
        record_size_max: 128 * 1024,
        spare_segments_max: 2,
        flushes_in_flight_max: 2,
    };
    c
}

fn batch_strategy(keys: u16) -> impl Strategy<Value = Vec<(u16, Option<(u8, u16)>)>> {
    prop::collection::vec(
        (
            0..keys,
            prop::option::weighted(0.8, (any::<u8>(), 0..400u16)),
        ),
        1..8,
    )
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        12 => batch_strategy(300).prop_map(Action::Commit),
        3 => (0..300u16).prop_map(Action::Get),
        2 => (0..300u16, 0..300u16, any::<bool>(), 1..40u8)
            .prop_map(|(a, b, r, l)| Action::Scan(a.min(b), a.max(b), r, l)),
        2 => Just(Action::Checkpoint),
        1 => Just(Action::Reopen),
        1 => any::<u64>().prop_map(Action::Crash),
        1 => (prop::collection::vec(batch_strategy(30), 1..5), 0..12u8, any::<u64>())
            .prop_map(|(b, y, s)| Action::CrashDuringCommits(b, y, s)),
        1 => (0..20u8, any::<u64>()).prop_map(|(y, s)| Action::CrashDuringCheckpoint(y, s)),
    ]
}

async fn check_all(engine: &Engine<SimDisk>, model: &Model, context: &str) {
    let all = engine
        .scan(
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            usize::MAX,
            usize::MAX,
        )
        .await
        .expect("full scan");
    let expect: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(all.len(), expect.len(), "{context}: item count differs");
    for (got, want) in all.iter().zip(&expect) {
        assert_eq!(got.0, want.0, "{context}: key differs");
        assert_eq!(
            got.1,
            want.1,
            "{context}: value of {:?} differs",
            &want.0[..6]
        );
    }
}

/// Copies the simulated shard to real files and runs fsck on it: no problems, no leaks.
fn fsck_sim(disk: &SimDisk, dir: &Path, ctx: &str) {
    let tmp = crate::support::TempDir::new("fsck-sim");
    for path in disk.paths() {
        let rel = path.strip_prefix(dir).expect("under the shard dir");
        let target = tmp.0.join(rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(&target, disk.contents(&path).expect("contents")).expect("write");
    }
    let report = shoal_node::storage::fsck::fsck_data_dir(&tmp.0).expect("fsck runs");
    let bad: Vec<String> = report
        .findings
        .iter()
        .filter(|f| {
            f.reason.contains("neither used nor free")
                || f.severity == shoal_node::storage::fsck::Severity::Problem
        })
        .map(|f| format!("{} {}: {}", f.path.display(), f.offset, f.reason))
        .collect();
    assert!(bad.is_empty(), "{ctx}: fsck: {bad:?}");
}

async fn open(disk: &SimDisk, dir: &Path) -> Engine<SimDisk> {
    Engine::open(disk.clone(), dir, config())
        .await
        .expect("open engine")
}

/// Runs the in-flight batches, crashes after `yields` turns, and returns which batches were
/// acknowledged before the crash.
async fn commits_then_crash(
    engine: &Engine<SimDisk>,
    disk: &SimDisk,
    batches: &[Vec<Op>],
    yields: u8,
    seed: u64,
) -> Vec<bool> {
    let acked = std::rc::Rc::new(std::cell::RefCell::new(vec![false; batches.len()]));
    let mut tasks = Vec::new();
    for (i, ops) in batches.iter().enumerate() {
        let e = engine.clone();
        let ops = ops.clone();
        let acked = acked.clone();
        tasks.push(glommio::spawn_local(async move {
            if e.commit(1, ops).await.is_ok() {
                acked.borrow_mut()[i] = true;
            }
        }));
    }
    for _ in 0..yields {
        glommio::executor().yield_now().await;
    }
    let at_crash = acked.borrow().clone();
    disk.crash(seed);
    for t in tasks {
        t.await;
    }
    at_crash
}

fn run_actions(actions: Vec<Action>) {
    run(move || async move {
        let mut disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard-0");
        let mut engine = open(&disk, &dir).await;
        let mut model = Model::new();
        for (step, action) in actions.into_iter().enumerate() {
            let ctx = format!("step {step} {action:?}");
            match action {
                Action::Commit(spec) => {
                    let ops = ops_of(&spec);
                    engine.commit(1, ops.clone()).await.expect("commit");
                    apply(&mut model, &ops);
                }
                Action::Get(k) => {
                    let got = engine.get(&key(k)).await.expect("get");
                    assert_eq!(got.as_ref(), model.get(&key(k)), "{ctx}");
                }
                Action::Scan(a, b, reverse, limit) => {
                    let (lo, hi) = (key(a), key(b));
                    let got = engine
                        .scan(
                            Bound::Included(&lo),
                            Bound::Excluded(&hi),
                            reverse,
                            limit as usize,
                            usize::MAX,
                        )
                        .await
                        .expect("scan");
                    let range = model
                        .range::<[u8], _>((Bound::Included(&lo[..]), Bound::Excluded(&hi[..])));
                    let want: Vec<(Vec<u8>, Vec<u8>)> = if reverse {
                        range
                            .rev()
                            .take(limit as usize)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    } else {
                        range
                            .take(limit as usize)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    };
                    assert_eq!(got, want, "{ctx}");
                }
                Action::Checkpoint => {
                    engine.checkpoint().await.expect("checkpoint");
                    fsck_sim(&disk, &dir, &ctx);
                }
                Action::Reopen => {
                    engine.close().await.expect("close");
                    engine = open(&disk, &dir).await;
                    check_all(&engine, &model, &ctx).await;
                }
                Action::Crash(seed) => {
                    disk.crash(seed);
                    disk = disk.after_crash();
                    engine = open(&disk, &dir).await;
                    check_all(&engine, &model, &ctx).await;
                }
                Action::CrashDuringCheckpoint(yields, seed) => {
                    let e = engine.clone();
                    let task = glommio::spawn_local(async move { e.checkpoint().await.is_ok() });
                    for _ in 0..yields {
                        glommio::executor().yield_now().await;
                    }
                    disk.crash(seed);
                    task.await;
                    disk = disk.after_crash();
                    engine = open(&disk, &dir).await;
                    check_all(&engine, &model, &ctx).await;
                }
                Action::CrashDuringCommits(specs, yields, seed) => {
                    // Disjoint keys per batch (offset by batch number) so each batch's
                    // presence can be judged on its own.
                    let batches: Vec<Vec<Op>> = specs
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let shifted: Vec<_> = s
                                .iter()
                                .map(|(k, v)| (1000 + i as u16 * 40 + k, *v))
                                .collect();
                            ops_of(&shifted)
                        })
                        .collect();
                    let acked = commits_then_crash(&engine, &disk, &batches, yields, seed).await;
                    disk = disk.after_crash();
                    engine = open(&disk, &dir).await;
                    for (i, ops) in batches.iter().enumerate() {
                        let mut with = model.clone();
                        apply(&mut with, ops);
                        let mut present = 0;
                        let mut absent = 0;
                        for op in ops {
                            let got = engine.get(&op.key).await.expect("get");
                            if got.as_ref() == with.get(&op.key) {
                                present += 1;
                            }
                            if got.as_ref() == model.get(&op.key) {
                                absent += 1;
                            }
                        }
                        let whole = present == ops.len();
                        let none = absent == ops.len();
                        assert!(whole || none, "{ctx}: batch {i} partly applied");
                        assert!(!acked[i] || whole, "{ctx}: acknowledged batch {i} lost");
                        if whole {
                            apply(&mut model, ops);
                        }
                    }
                    check_all(&engine, &model, &ctx).await;
                }
            }
        }
        engine.close().await.expect("final close");
        let engine = open(&disk, &dir).await;
        check_all(&engine, &model, "final reopen").await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("SHOAL_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        max_shrink_iters: 200,
        .. ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model_through_checkpoints_and_crashes(
        actions in prop::collection::vec(action_strategy(), 1..80)
    ) {
        run_actions(actions);
    }
}

#[test]
fn many_keys_beyond_cache_survive_crash_after_checkpoint() {
    let mut actions = Vec::new();
    for round in 0..30u16 {
        let spec: Vec<_> = (0..8u16)
            .map(|i| (round * 8 + i, Some((round as u8, i * 50))))
            .collect();
        actions.push(Action::Commit(spec));
        if round % 10 == 9 {
            actions.push(Action::Checkpoint);
        }
    }
    actions.push(Action::Crash(7));
    actions.push(Action::Scan(0, 300, true, 40));
    run_actions(actions);
}

/// Sorted batches large enough that one run of ops fills a leaf past several pages, empties
/// whole leaves, and deletes and re-puts a key within the run; then the same again as a
/// replay after a crash (recovery applies the log sorted by key).
#[test]
fn sorted_runs_that_fill_split_and_empty_leaves_match_the_model() {
    let puts: BatchSpec = (0..300u16)
        .map(|k| (k, Some((2 + k as u8 % 5, 40))))
        .collect();
    let deletes: BatchSpec = (60..200u16).map(|k| (k, None)).collect();
    let mut churn: BatchSpec = Vec::new();
    for k in 30..230u16 {
        churn.push((k, None));
        if k % 3 == 0 {
            churn.push((k, Some((2 + k as u8 % 5, 7))));
        }
    }
    let mut actions = vec![
        Action::Commit(puts.clone()),
        Action::Commit(deletes.clone()),
        Action::Commit(churn.clone()),
        Action::Scan(0, 400, true, 255),
        Action::Reopen,
        Action::Commit(puts),
        Action::Commit(deletes),
        Action::Commit(churn),
        Action::Crash(3),
        Action::Scan(0, 400, false, 255),
    ];
    actions.push(Action::Get(150));
    run_actions(actions);
}

/// One batch that changes keys in nearly every leaf of a tree that is cold (reopened after
/// a checkpoint, the cache far smaller than the tree): its paths are resolved a level at a
/// time, many leaves loaded together, and the result must match the model, live and after
/// a crash replays it.
#[test]
fn a_batch_across_a_cold_tree_matches_the_model() {
    let mut actions = Vec::new();
    for round in 0..24u16 {
        let spec: BatchSpec = (0..50u16)
            .map(|i| (round * 50 + i, Some((1 + round as u8, 60))))
            .collect();
        actions.push(Action::Commit(spec));
    }
    actions.push(Action::Checkpoint);
    actions.push(Action::Reopen);
    let across: BatchSpec = (0..1200u16)
        .step_by(7)
        .map(|k| (k, if k % 2 == 0 { None } else { Some((9, 30)) }))
        .collect();
    actions.push(Action::Commit(across));
    actions.push(Action::Scan(0, 1200, true, 255));
    actions.push(Action::Crash(5));
    actions.push(Action::Scan(0, 1200, false, 255));
    actions.push(Action::Get(707));
    run_actions(actions);
}
