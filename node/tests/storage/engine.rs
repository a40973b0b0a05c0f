//! Engine behaviour on real O_DIRECT files and under injected faults: data many times the
//! cache, bounded file size under overwrites, fail-stop on write and fsync errors, a full
//! disk, bit flips in pages and log records, a lost newest checkpoint.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use shoal_node::storage::dma::DmaDisk;
use shoal_node::storage::sim::SimDisk;
use shoal_node::storage::{Engine, EngineConfig, Op, StorageError};

use crate::support::{TempDir, run};

fn put(k: u32, v: &[u8]) -> Op {
    Op {
        key: format!("key-{k:08}").into_bytes(),
        value: Some(v.to_vec()),
    }
}

fn val(k: u32, round: u32, len: usize) -> Vec<u8> {
    let mut v = format!("{k}:{round}:").into_bytes();
    v.resize(len, (k ^ round) as u8);
    v
}

fn small_config(cache: usize) -> EngineConfig {
    let mut c = EngineConfig::with_cache_bytes(cache);
    c.wal.segment_size = 1 << 20;
    c.wal.record_size_max = 512 * 1024;
    c.wal.flush_bytes_max = 256 * 1024;
    c.wal.pending_bytes_max = 1 << 20;
    c
}

#[test]
fn data_ten_times_the_cache_reads_back_on_real_files() {
    let tmp = TempDir::new("engine-10x");
    let dir = tmp.0.clone();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let cache = 256 * 1024;
        let engine = Engine::open(disk.clone(), &dir, small_config(cache))
            .await
            .expect("open");
        engine.start_background(None);
        let n = 13_000u32;
        let mut written = 0usize;
        for chunk in 0..(n / 100) {
            let ops: Vec<Op> = (0..100)
                .map(|i| put(chunk * 100 + i, &val(chunk * 100 + i, 0, 200)))
                .collect();
            written += ops.iter().map(|o| o.key.len() + 200).sum::<usize>();
            engine.commit(1, ops).await.expect("commit");
        }
        assert!(
            written >= 10 * cache,
            "data set {written} is not 10x the cache {cache}"
        );
        for k in (0..n).step_by(7) {
            let got = engine
                .get(format!("key-{k:08}").as_bytes())
                .await
                .expect("get");
            assert_eq!(got, Some(val(k, 0, 200)), "key {k}");
        }
        let all = engine
            .scan(
                Bound::Unbounded,
                Bound::Unbounded,
                false,
                usize::MAX,
                usize::MAX,
            )
            .await
            .expect("scan");
        assert_eq!(all.len(), n as usize);
        let stats = engine.stats();
        assert!(stats.tree.cache.evictions > 0, "{stats:?}");
        assert!(
            stats.tree.cache.bytes <= cache * 2,
            "cache over budget: {stats:?}"
        );
        engine.close().await.expect("close");
        let engine = Engine::open(disk, &dir, small_config(cache))
            .await
            .expect("reopen");
        let back = engine
            .scan(Bound::Unbounded, Bound::Unbounded, true, 10, usize::MAX)
            .await;
        let back = back.expect("reverse scan");
        let keys: Vec<String> = back
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into())
            .collect();
        assert_eq!(keys[0], format!("key-{:08}", n - 1));
        assert_eq!(keys.len(), 10);
        engine.close().await.expect("close");
    });
}

#[test]
fn overwrite_heavy_workload_keeps_the_file_bounded() {
    let tmp = TempDir::new("engine-overwrite");
    let dir = tmp.0.clone();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("open");
        let tree_len = |d: &Path| {
            std::fs::metadata(d.join("tree.db"))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        let mut sizes = Vec::new();
        for round in 0..40u32 {
            for chunk in 0..10u32 {
                let ops = (0..50)
                    .map(|i| put(chunk * 50 + i, &val(i, round, 300)))
                    .collect();
                engine.commit(1, ops).await.expect("commit");
            }
            engine.checkpoint().await.expect("checkpoint");
            sizes.push(tree_len(&dir));
        }
        let early = sizes[9];
        let late = *sizes.last().expect("sizes");
        assert!(late <= early * 3 / 2, "tree file keeps growing: {sizes:?}");
        let wal_files = std::fs::read_dir(dir.join("wal")).expect("wal dir").count();
        assert!(
            wal_files <= 4,
            "{wal_files} log segments: the log is not truncated"
        );
        for k in 0..500u32 {
            let got = engine
                .get(format!("key-{k:08}").as_bytes())
                .await
                .expect("get");
            assert_eq!(got, Some(val(k % 50, 39, 300)));
        }
        engine.close().await.expect("close");
    });
}

#[test]
fn failed_fsync_fail_stops_and_recovery_keeps_acknowledged_batches() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard");
        let engine = Engine::open(disk.clone(), &dir, small_config(1 << 20))
            .await
            .expect("open");
        engine
            .commit(1, vec![put(1, b"one")])
            .await
            .expect("commit");
        disk.fail_sync_after(0);
        let err = engine
            .commit(1, vec![put(2, b"two")])
            .await
            .expect_err("fsync fails");
        assert!(matches!(err, StorageError::Failed(_)), "{err}");
        assert!(err.to_string().contains("fdatasync"), "{err}");
        let later = engine
            .commit(1, vec![put(3, b"three")])
            .await
            .expect_err("stopped");
        assert!(matches!(later, StorageError::Failed(_)), "{later}");
        assert!(
            engine.get(b"key-00000001").await.is_err(),
            "reads also stop after fail-stop"
        );
        disk.crash(1);
        let disk = disk.after_crash();
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("reopen");
        assert_eq!(
            engine.get(b"key-00000001").await.expect("get"),
            Some(b"one".to_vec())
        );
        assert_eq!(engine.get(b"key-00000003").await.expect("get"), None);
        engine.close().await.expect("close");
    });
}

#[test]
fn failed_checkpoint_write_fail_stops() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard");
        let engine = Engine::open(disk.clone(), &dir, small_config(1 << 20))
            .await
            .expect("open");
        for i in 0..50 {
            engine
                .commit(1, vec![put(i, &[7; 100])])
                .await
                .expect("commit");
        }
        disk.fail_write_after(0);
        let err = engine.checkpoint().await.expect_err("write fails");
        assert!(err.to_string().contains("injected EIO"), "{err}");
        let err = engine
            .commit(1, vec![put(99, b"x")])
            .await
            .expect_err("stopped");
        assert!(matches!(err, StorageError::Failed(_)));
        disk.crash(3);
        let disk = disk.after_crash();
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("reopen");
        for i in 0..50 {
            let key = format!("key-{i:08}");
            assert_eq!(
                engine.get(key.as_bytes()).await.expect("get"),
                Some(vec![7; 100])
            );
        }
        engine.close().await.expect("close");
    });
}

#[test]
fn full_disk_is_an_error_not_a_panic() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard");
        let engine = Engine::open(disk.clone(), &dir, small_config(1 << 20))
            .await
            .expect("open");
        engine
            .commit(1, vec![put(1, b"kept")])
            .await
            .expect("commit");
        disk.set_capacity(Some(0));
        let mut failed = None;
        for i in 2..2000u32 {
            let res = engine.commit(1, vec![put(i, &[1; 1000])]).await;
            let cp = if i % 50 == 0 {
                engine.checkpoint().await.err()
            } else {
                None
            };
            if let Some(e) = res.err().or(cp) {
                failed = Some(e);
                break;
            }
        }
        let err = failed.expect("a full disk must surface as an error");
        assert!(err.to_string().contains("No space left on device"), "{err}");
        disk.clear_faults();
        disk.crash(9);
        let disk = disk.after_crash();
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("reopen");
        assert_eq!(
            engine.get(b"key-00000001").await.expect("get"),
            Some(b"kept".to_vec())
        );
        engine.close().await.expect("close");
    });
}

#[test]
fn oversized_keys_and_values_are_refused_and_the_engine_keeps_serving() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard");
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("open");
        let big_key = Op {
            key: vec![1; 5000],
            value: Some(vec![]),
        };
        let err = engine
            .commit(1, vec![big_key])
            .await
            .expect_err("key too large");
        assert!(
            matches!(
                err,
                StorageError::TooLarge {
                    what: "key",
                    max: 4096,
                    ..
                }
            ),
            "{err}"
        );
        let big_value = Op {
            key: b"k".to_vec(),
            value: Some(vec![0; 600 * 1024]),
        };
        let err = engine
            .commit(1, vec![big_value])
            .await
            .expect_err("value too large");
        assert!(
            matches!(err, StorageError::TooLarge { what: "value", .. }),
            "{err}"
        );
        let max_key = Op {
            key: vec![2; 4096],
            value: Some(vec![3; 400 * 1024]),
        };
        engine
            .commit(1, vec![max_key.clone()])
            .await
            .expect("4 KiB key, 400 KiB value");
        engine.checkpoint().await.expect("checkpoint");
        assert_eq!(engine.get(&max_key.key).await.expect("get"), max_key.value);
        engine.close().await.expect("close");
    });
}

/// Writes batches on real files in one executor and lets it end without a checkpoint, as
/// if the process were killed: the log alone holds the data.
fn write_without_checkpoint(dir: &Path, batches: u32) {
    let dir = dir.to_path_buf();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("open");
        for i in 0..batches {
            engine
                .commit(1, vec![put(i, &val(i, 0, 100))])
                .await
                .expect("commit");
        }
        engine.halt().await.expect("halt");
    });
}

#[test]
fn bit_flip_in_a_log_record_is_reported_with_file_and_offset() {
    let tmp = TempDir::new("engine-walflip");
    write_without_checkpoint(&tmp.0, 20);
    let wal_dir = tmp.0.join("wal");
    let seg = std::fs::read_dir(&wal_dir)
        .expect("wal dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a segment");
    let mut bytes = std::fs::read(&seg).expect("read segment");
    // Third flush (block 3), inside its first record's payload.
    bytes[3 * 4096 + 32 + 40 + 10] ^= 0x08;
    std::fs::write(&seg, &bytes).expect("write segment");
    let dir = tmp.0.clone();
    let err = run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        Engine::open(disk, &dir, small_config(1 << 20)).await.err()
    });
    match err {
        Some(StorageError::Corrupt {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, 3 * 4096);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected corruption error, got {other:?}"),
    }
}

#[test]
fn bit_flip_in_a_page_is_reported_never_returned_as_data() {
    let tmp = TempDir::new("engine-pageflip");
    let dir = tmp.0.clone();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("open");
        for i in 0..400u32 {
            engine
                .commit(1, vec![put(i, &val(i, 0, 100))])
                .await
                .expect("commit");
        }
        engine.close().await.expect("close");
    });
    // Flip one byte in every leaf page's body.
    let path = tmp.0.join("tree.db");
    let mut bytes = std::fs::read(&path).expect("read tree");
    let mut flipped = 0;
    for page in 2..bytes.len() / 4096 {
        let p = &mut bytes[page * 4096..(page + 1) * 4096];
        if p[0..4] == *b"SHPG" && p[6] == 1 {
            p[200] ^= 0x01;
            flipped += 1;
        }
    }
    assert!(flipped > 0, "no leaf pages found");
    std::fs::write(&path, &bytes).expect("write tree");
    let dir = tmp.0.clone();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let engine = Engine::open(disk, &dir, small_config(1 << 20))
            .await
            .expect("open");
        let mut errors = 0;
        for i in 0..400u32 {
            match engine.get(format!("key-{i:08}").as_bytes()).await {
                Ok(v) => assert_eq!(v, Some(val(i, 0, 100)), "wrong data returned for {i}"),
                Err(StorageError::Corrupt { path, reason, .. }) => {
                    assert!(path.ends_with("tree.db"));
                    assert!(reason.contains("checksum"), "{reason}");
                    errors += 1;
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_eq!(errors, 400, "every key lives in a damaged leaf");
        engine.halt().await.expect("halt");
    });
}

#[test]
fn losing_the_newest_checkpoint_refuses_to_open_instead_of_dropping_writes() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard");
        let engine = Engine::open(disk.clone(), &dir, small_config(1 << 20))
            .await
            .expect("open");
        for round in 0..3u32 {
            for i in 0..20u32 {
                engine
                    .commit(1, vec![put(i, &val(i, round, 50))])
                    .await
                    .expect("commit");
            }
            engine.checkpoint().await.expect("checkpoint");
            // Let the truncation reach the disk.
            engine
                .commit(2, vec![put(1000 + round, b"x")])
                .await
                .expect("commit");
        }
        let seq = engine.stats().tree.checkpoint_sequence;
        engine.close().await.expect("close");
        let seq = seq + 1; // close ran one more checkpoint
        let slot_offset = (seq % 2) * 4096;
        assert!(disk.corrupt(&dir.join("tree.db"), slot_offset + 30, 0xff));
        match Engine::open(disk, &dir, small_config(1 << 20)).await {
            Err(StorageError::Corrupt { reason, .. }) => {
                assert!(reason.contains("newest checkpoint is lost"), "{reason}");
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("opened with acknowledged batches missing"),
        }
    });
}

#[test]
fn a_shard_directory_cannot_be_opened_twice() {
    let tmp = TempDir::new("engine-lock");
    let dir = tmp.0.clone();
    run(move || async move {
        let first = DmaDisk::new(&dir).await.expect("first open");
        let err = DmaDisk::new(&dir)
            .await
            .err()
            .expect("second open must fail");
        assert!(
            err.to_string().contains("in use by another Shoal process"),
            "{err}"
        );
        drop(first);
        DmaDisk::new(&dir)
            .await
            .expect("free again once the first is gone");
    });
}

/// A checkpoint view reads the tree exactly as that checkpoint holds it while the live tree
/// is overwritten, deleted from and checkpointed again and again (freed pages would be
/// reused under an unpinned reader), with a cache far smaller than the data so the view
/// reads its pages back from the file.
#[test]
fn a_checkpoint_view_reads_its_checkpoint_while_writers_go_on() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/view");
        let cache = 256 * 1024;
        let engine = Engine::open(disk.clone(), &dir, small_config(cache))
            .await
            .expect("open");
        let n = 3000u32;
        for chunk in 0..(n / 100) {
            let ops = (0..100)
                .map(|i| put(chunk * 100 + i, &val(chunk * 100 + i, 0, 300)))
                .collect();
            engine.commit(1, ops).await.expect("commit");
        }
        engine.checkpoint().await.expect("checkpoint");
        let view = engine.checkpoint_view();
        assert_eq!(view.applied(1), u64::from(n / 100));
        for round in 1..4u32 {
            for chunk in 0..(n / 100) {
                let ops = (0..100)
                    .map(|i| {
                        let k = chunk * 100 + i;
                        match (k + round) % 5 {
                            0 => Op {
                                key: format!("key-{k:08}").into_bytes(),
                                value: None,
                            },
                            _ => put(k, &val(k, round, 300)),
                        }
                    })
                    .collect();
                engine.commit(1, ops).await.expect("commit");
            }
            engine.checkpoint().await.expect("checkpoint");
        }
        let live = engine
            .get(b"key-00000001")
            .await
            .expect("get")
            .expect("present");
        assert_eq!(live, val(1, 3, 300), "the live tree moved on");
        let mut next = 0u32;
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let lo = cursor.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let rows = view
                .scan(lo, Bound::Unbounded, 97, 64 * 1024)
                .await
                .expect("view scan");
            let Some((last, _)) = rows.last() else { break };
            cursor = Some(last.clone());
            for (k, v) in rows {
                assert_eq!(k, format!("key-{next:08}").into_bytes());
                assert_eq!(v, val(next, 0, 300), "key {next} as checkpointed");
                next += 1;
            }
        }
        assert_eq!(next, n, "every key of the checkpoint");
        drop(view);
        engine.checkpoint().await.expect("checkpoint");
        engine.close().await.expect("close");
    });
}

#[test]
fn cold_range_scans_read_ahead_and_return_exactly_the_range() {
    // Leaves and overflow values are read from disk several at a time once a scan has
    // seen how much it still needs; whatever it reads ahead, a scan returns the range
    // it asked for, in order, whole.
    let tmp = TempDir::new("engine-read-ahead");
    let dir = tmp.0.clone();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("dma disk");
        let cache = 128 * 1024;
        let engine = Engine::open(disk.clone(), &dir, small_config(cache))
            .await
            .expect("open");
        let n = 6_000u32;
        // Every fifth value is too long to stay in its leaf (an overflow extent).
        let len = |k: u32| if k.is_multiple_of(5) { 3000 } else { 120 };
        for chunk in 0..(n / 100) {
            let ops: Vec<Op> = (0..100)
                .map(|i| chunk * 100 + i)
                .map(|k| put(k, &val(k, 1, len(k))))
                .collect();
            engine.commit(1, ops).await.expect("commit");
        }
        engine.close().await.expect("close");
        let key = |k: u32| format!("key-{k:08}").into_bytes();
        let cases: [(u32, u32, bool, usize); 6] = [
            (0, n, false, usize::MAX),
            (0, n, true, usize::MAX),
            (1_234, 4_321, false, usize::MAX),
            (1_234, 4_321, true, usize::MAX),
            (2_000, 5_999, false, 700),
            (17, 3_000, true, 333),
        ];
        for (lo, hi, reverse, limit) in cases {
            // Each case starts from a cold cache: the tree is reopened.
            let engine = Engine::open(disk.clone(), &dir, small_config(cache))
                .await
                .expect("reopen");
            let (lo_key, hi_key) = (key(lo), key(hi));
            let got = engine
                .scan(
                    Bound::Included(&lo_key),
                    Bound::Excluded(&hi_key),
                    reverse,
                    limit,
                    usize::MAX,
                )
                .await
                .expect("scan");
            let mut want: Vec<u32> = (lo..hi).collect();
            if reverse {
                want.reverse();
            }
            want.truncate(limit);
            assert_eq!(got.len(), want.len(), "{lo}..{hi} reverse {reverse}");
            for ((k, v), w) in got.iter().zip(&want) {
                assert_eq!(k, &key(*w), "{lo}..{hi} reverse {reverse}");
                assert_eq!(v, &val(*w, 1, len(*w)), "value of {w}");
            }
            let stats = engine.stats();
            assert!(
                stats.tree.counters.extents_read_ahead > 0,
                "{lo}..{hi} reverse {reverse}: nothing read ahead: {stats:?}"
            );
            engine.close().await.expect("close");
        }
    });
}
