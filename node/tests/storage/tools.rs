//! The `shoal-node stress` and `shoal-node fsck` commands, run as real processes.

use std::path::Path;
use std::process::Command;

use shoal_node::storage::dma::DmaDisk;
use shoal_node::storage::{Engine, EngineConfig, Op};

use crate::support::{TempDir, run};

fn shoal_node() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal-node"))
}

#[test]
fn stress_kills_and_verifies_for_a_bounded_time() {
    let seconds: u64 = std::env::var("SHOAL_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let tmp = TempDir::new("stress");
    let dir = tmp.0.join("store");
    let out = shoal_node()
        .args([
            "stress",
            "--seconds",
            &seconds.to_string(),
            "--seed",
            "20261124",
        ])
        .args(["--dir", &dir.to_string_lossy(), "--cache-bytes", "1048576"])
        .output()
        .expect("run shoal-node stress");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stress failed:\n{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("stress: seed 20261124"), "{stdout}");
    let last = lines.last().expect("summary line");
    assert!(last.contains(" 0 violations"), "{stdout}");
    let kills: u64 = last
        .trim_start_matches("stress: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("kill count");
    assert!(kills >= 2, "only {kills} kills in {seconds} s: {stdout}");
    // The store it leaves behind passes fsck.
    let fsck = shoal_node()
        .args(["fsck", "--data-dir", &dir.to_string_lossy()])
        .output();
    let fsck = fsck.expect("run fsck");
    let report = String::from_utf8_lossy(&fsck.stdout);
    assert!(fsck.status.success(), "fsck after stress:\n{report}");
}

#[test]
fn stress_refuses_a_directory_that_is_not_empty() {
    let tmp = TempDir::new("stress-dirty");
    std::fs::write(tmp.0.join("precious"), b"data").expect("write");
    let out = shoal_node()
        .args([
            "stress",
            "--seconds",
            "1",
            "--dir",
            &tmp.0.to_string_lossy(),
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(tmp.0.join("precious").exists());
}

/// Builds a store with `batches` batches, then ends the executor without a checkpoint, so
/// the log holds the data too.
fn build_store(dir: &Path, batches: u32, checkpoint: bool) {
    let dir = dir.to_path_buf();
    run(move || async move {
        let disk = DmaDisk::new(&dir).await.expect("disk");
        let engine = Engine::open(disk, &dir, EngineConfig::default())
            .await
            .expect("open");
        for i in 0..batches {
            let op = Op {
                key: format!("key-{i:06}").into_bytes(),
                value: Some(vec![i as u8; 150]),
            };
            engine.commit(1, vec![op]).await.expect("commit");
            if checkpoint && i == batches / 2 {
                engine.checkpoint().await.expect("checkpoint");
            }
        }
        engine.halt().await.expect("halt");
    });
}

fn fsck(dir: &Path) -> (bool, String) {
    let out = shoal_node()
        .args(["fsck", "--data-dir", &dir.to_string_lossy()])
        .output()
        .expect("run fsck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn fsck_passes_a_clean_store_and_names_damaged_pages_and_records() {
    let tmp = TempDir::new("fsck");
    let shard = tmp.0.join("shard-0");
    build_store(&shard, 600, true);
    let (ok, report) = fsck(&tmp.0);
    assert!(ok, "clean store: {report}");
    assert!(
        report.contains("1 shards") && report.contains("0 problems"),
        "{report}"
    );

    // A flipped byte in a leaf page.
    let tree = shard.join("tree.db");
    let pristine = std::fs::read(&tree).expect("read tree");
    let mut bytes = pristine.clone();
    let leaf = (2..bytes.len() / 4096)
        .find(|&p| bytes[p * 4096..p * 4096 + 4] == *b"SHPG" && bytes[p * 4096 + 6] == 1)
        .expect("a leaf page");
    bytes[leaf * 4096 + 100] ^= 0x20;
    std::fs::write(&tree, &bytes).expect("write tree");
    let (ok, report) = fsck(&tmp.0);
    assert!(!ok, "damaged page passed: {report}");
    let want = format!(
        "PROBLEM: {} offset {}: page checksum",
        tree.display(),
        leaf * 4096
    );
    assert!(report.contains(&want), "expected {want:?} in:\n{report}");
    std::fs::write(&tree, &pristine).expect("restore tree");

    // A flipped byte in a log record that later flushes vouch for.
    let wal = shard.join("wal");
    let seg = std::fs::read_dir(&wal)
        .expect("wal")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .min()
        .expect("segment");
    let mut bytes = std::fs::read(&seg).expect("read segment");
    let flushes: Vec<usize> = (1..bytes.len() / 4096)
        .filter(|&b| bytes[b * 4096..b * 4096 + 4] == *b"FLSH")
        .collect();
    assert!(
        flushes.len() > 10,
        "expected many flushes, found {}",
        flushes.len()
    );
    let flush = flushes[flushes.len() - 5];
    bytes[flush * 4096 + 32 + 45] ^= 0x01;
    std::fs::write(&seg, &bytes).expect("write segment");
    let (ok, report) = fsck(&tmp.0);
    assert!(!ok, "damaged record passed: {report}");
    let want = format!("PROBLEM: {} offset {}:", seg.display(), flush * 4096);
    assert!(report.contains(&want), "expected {want:?} in:\n{report}");
    assert!(report.contains("acknowledged data is damaged"), "{report}");
}

#[test]
fn fsck_explains_a_directory_without_shards() {
    let tmp = TempDir::new("fsck-empty");
    let out = shoal_node()
        .args(["fsck", "--data-dir", &tmp.0.to_string_lossy()])
        .output()
        .expect("run fsck");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no shard directories"));
}
