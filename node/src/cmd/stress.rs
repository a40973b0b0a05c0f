//! `shoal-node stress`: random batches against the engine in a child process that is
//! SIGKILLed at random moments, with a full check of the recovered store after every kill
//! (in the spirit of RocksDB's db_stress).
//!
//! Workload: `writers` concurrent writers, each owning its own key range and log stream,
//! commit batches of puts and deletes. Batch `i` of writer `w` is a pure function of
//! (seed, w, i), and every batch also records `i` under the writer's marker key, so the
//! recovered store tells which prefix of each writer's batches survived. The same seed
//! always produces the same batches; only the kill times (also drawn from the seed) and the
//! interleaving of writers vary with the machine.
//!
//! Checks after each kill: the marker of every writer is at least its last acknowledged
//! batch (nothing acknowledged lost); the writer's whole key range equals the model after
//! exactly that prefix (no batch partly applied, no unacknowledged batch invented, no wrong
//! value, nothing missing).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::storage::dma::DmaDisk;
use crate::storage::{Engine, EngineConfig, Op};

/// Settings shared by the parent and its children.
#[derive(Debug, Clone)]
pub struct StressConfig {
    /// Store directory.
    pub dir: PathBuf,
    /// Workload seed.
    pub seed: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// Page cache budget of the engine.
    pub cache_bytes: usize,
    /// Concurrent writers.
    pub writers: u32,
    /// Keys per writer.
    pub keys: u32,
}

/// What a stress run found.
#[derive(Debug, Default, Clone)]
pub struct StressSummary {
    /// Children killed.
    pub kills: u64,
    /// Batches whose effects were verified.
    pub batches_verified: u64,
    /// Keys compared against the model.
    pub keys_checked: u64,
    /// Violations found (each printed as it was found).
    pub violations: u64,
}

type Model = BTreeMap<u32, Vec<u8>>;

fn storage_key(writer: u32, key: u32) -> Vec<u8> {
    format!("w{writer:03}/k{key:08}").into_bytes()
}

fn marker_key(writer: u32) -> Vec<u8> {
    format!("w{writer:03}/~batch").into_bytes()
}

/// Batch `index` of `writer`: (key, Some(value) to put or None to delete).
pub fn batch_ops(cfg: &StressConfig, writer: u32, index: u64) -> Vec<(u32, Option<Vec<u8>>)> {
    let mix =
        cfg.seed ^ (writer as u64).rotate_left(40) ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut rng = Pcg64::seed_from_u64(mix);
    let n = rng.random_range(1..=12);
    (0..n)
        .map(|_| {
            let key = rng.random_range(0..cfg.keys);
            if rng.random_bool(0.15) {
                (key, None)
            } else {
                let mut v = format!("w{writer}/b{index}/k{key}/").into_bytes();
                let fill = cfg.value_size.max(v.len()) - v.len();
                v.extend((0..fill).map(|_| rng.random::<u8>()));
                v.truncate(cfg.value_size.max(1));
                (key, Some(v))
            }
        })
        .collect()
}

fn engine_ops(cfg: &StressConfig, writer: u32, index: u64) -> Vec<Op> {
    let mut ops: Vec<Op> = batch_ops(cfg, writer, index)
        .into_iter()
        .map(|(k, v)| Op {
            key: storage_key(writer, k),
            value: v,
        })
        .collect();
    ops.push(Op {
        key: marker_key(writer),
        value: Some(index.to_le_bytes().to_vec()),
    });
    ops
}

/// The engine configuration a stress child runs with: small segments and frequent
/// checkpoints so recycling, checkpoints and eviction all happen within seconds.
pub fn engine_config(cache_bytes: usize) -> EngineConfig {
    let mut c = EngineConfig::with_cache_bytes(cache_bytes);
    c.checkpoint_interval = Duration::from_millis(250);
    c.wal.segment_size = 4 << 20;
    c.wal.record_size_max = 1 << 20;
    c.wal.flush_bytes_max = 256 << 10;
    c.wal.pending_bytes_max = 2 << 20;
    c
}

/// The child: open, report "ready", then commit batches from every writer until killed,
/// printing "ack <writer> <index>" after each acknowledged batch.
pub fn run_child(cfg: StressConfig) -> anyhow::Result<()> {
    let result = crate::rt::run_local("stress-child", 1 << 20, move || async move {
        let disk = DmaDisk::new(&cfg.dir)
            .await
            .context("open data directory")?;
        let engine = Engine::open(disk, &cfg.dir, engine_config(cfg.cache_bytes))
            .await
            .context("open engine")?;
        let queues = crate::rt::create_queues();
        engine.start_background(Some(queues.background));
        let mut starts = Vec::new();
        for w in 0..cfg.writers {
            starts.push(read_marker(&engine, w).await?);
        }
        println!("ready");
        std::io::stdout().flush()?;
        let mut tasks = Vec::new();
        for (w, start) in starts.into_iter().enumerate() {
            let engine = engine.clone();
            let cfg = cfg.clone();
            tasks.push(glommio::spawn_local(async move {
                let w = w as u32;
                // Runs until the parent kills the process.
                for index in start + 1.. {
                    let ops = engine_ops(&cfg, w, index);
                    if let Err(e) = engine.commit(w as u64 + 1, ops).await {
                        return Err(anyhow::anyhow!("writer {w} batch {index}: {e}"));
                    }
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {w} {index}")?;
                    out.flush()?;
                }
                Ok(())
            }));
        }
        for t in tasks {
            t.await?;
        }
        anyhow::Ok(())
    });
    result.context("executor")?
}

async fn read_marker(engine: &Engine<DmaDisk>, writer: u32) -> anyhow::Result<u64> {
    let v = engine.get(&marker_key(writer)).await?;
    Ok(match v {
        None => 0,
        Some(b) => u64::from_le_bytes(b.as_slice().try_into().context("marker is 8 bytes")?),
    })
}

/// The parent: runs children, kills them, verifies, for `seconds`.
pub fn run_parent(cfg: StressConfig, seconds: u64) -> anyhow::Result<StressSummary> {
    println!(
        "stress: seed {} (replay with --seed {})",
        cfg.seed, cfg.seed
    );
    prepare_dir(&cfg.dir)?;
    let exe = std::env::current_exe().context("locate shoal-node")?;
    let mut rng = Pcg64::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut models: Vec<(u64, Model)> = vec![(0, Model::new()); cfg.writers as usize];
    let mut summary = StressSummary::default();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut last_report = start;
    while Instant::now() < deadline {
        let acked = run_and_kill(&exe, &cfg, &mut rng, &mut summary)?;
        verify(&cfg, &acked, &mut models, &mut summary)?;
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "stress: {:>4}s {} kills, {} batches verified, {} violations",
                start.elapsed().as_secs(),
                summary.kills,
                summary.batches_verified,
                summary.violations
            );
        }
        if summary.violations > 0 {
            break;
        }
    }
    println!(
        "stress: {} kills, {} batches verified, {} keys checked, {} violations (seed {})",
        summary.kills, summary.batches_verified, summary.keys_checked, summary.violations, cfg.seed
    );
    Ok(summary)
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "--dir {} is not empty; stress needs a fresh directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))
}

/// Runs one child and SIGKILLs it; returns the highest acknowledged batch per writer.
fn run_and_kill(
    exe: &Path,
    cfg: &StressConfig,
    rng: &mut Pcg64,
    summary: &mut StressSummary,
) -> anyhow::Result<Vec<u64>> {
    let mut child = Command::new(exe)
        .arg("stress-child")
        .args(["--dir", &cfg.dir.to_string_lossy()])
        .args(["--seed", &cfg.seed.to_string()])
        .args(["--value-size", &cfg.value_size.to_string()])
        .args(["--cache-bytes", &cfg.cache_bytes.to_string()])
        .args(["--writers", &cfg.writers.to_string()])
        .args(["--keys", &cfg.keys.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("spawn stress child")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = vec![0u64; cfg.writers as usize];
    let early = rng.random_bool(0.1);
    let delay = if early {
        Duration::from_millis(rng.random_range(0..30))
    } else {
        Duration::from_millis(rng.random_range(20..1000))
    };
    let spawned = Instant::now();
    let mut ready_at = if early { Some(spawned) } else { None };
    let ready_deadline = spawned + Duration::from_secs(60);
    loop {
        let now = Instant::now();
        if let Some(t) = ready_at {
            if now >= t + delay {
                break;
            }
        } else if now >= ready_deadline {
            bail!("stress child did not become ready within 60 s");
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(line) => {
                if line == "ready" {
                    ready_at.get_or_insert(Instant::now());
                }
                record_ack(&line, &mut acked);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // std's Child::kill sends SIGKILL on Unix: no chance to flush or clean up.
    let killed = child.kill().is_ok();
    let status = child.wait().context("wait for stress child")?;
    reader.join().ok();
    for line in rx.try_iter() {
        record_ack(&line, &mut acked);
    }
    if !killed || status.code().is_some() {
        summary.violations += 1;
        println!("VIOLATION: stress child exited by itself ({status}) before being killed");
    }
    summary.kills += 1;
    Ok(acked)
}

fn record_ack(line: &str, acked: &mut [u64]) {
    let mut parts = line.split_whitespace();
    if parts.next() != Some("ack") {
        return;
    }
    let w = parts.next().and_then(|s| s.parse::<usize>().ok());
    let i = parts.next().and_then(|s| s.parse::<u64>().ok());
    if let (Some(w), Some(i)) = (w, i)
        && let Some(slot) = acked.get_mut(w)
    {
        *slot = (*slot).max(i);
    }
}

/// Opens the store in-process and checks every writer against its model.
fn verify(
    cfg: &StressConfig,
    acked: &[u64],
    models: &mut [(u64, Model)],
    summary: &mut StressSummary,
) -> anyhow::Result<()> {
    let cfg2 = cfg.clone();
    let found = crate::rt::run_local("stress-verify", 1 << 20, move || async move {
        let disk = DmaDisk::new(&cfg2.dir).await?;
        let engine = match Engine::open(disk, &cfg2.dir, engine_config(cfg2.cache_bytes)).await {
            Ok(e) => e,
            Err(e) => return anyhow::Ok(Err(format!("recovery failed: {e}"))),
        };
        let mut per_writer = Vec::new();
        for w in 0..cfg2.writers {
            let marker = read_marker(&engine, w).await?;
            let lo = format!("w{w:03}/k").into_bytes();
            let hi = format!("w{w:03}/l").into_bytes();
            let items = engine
                .scan(
                    Bound::Included(&lo),
                    Bound::Excluded(&hi),
                    false,
                    usize::MAX,
                    usize::MAX,
                )
                .await?;
            per_writer.push((marker, items));
        }
        engine.halt().await?;
        Ok(Ok(per_writer))
    })
    .context("verify executor")??;
    let per_writer = match found {
        Ok(p) => p,
        Err(reason) => {
            summary.violations += 1;
            println!("VIOLATION: {reason}");
            return Ok(());
        }
    };
    for (w, (marker, items)) in per_writer.into_iter().enumerate() {
        let (done, model) = &mut models[w];
        if marker < acked[w] {
            summary.violations += 1;
            println!(
                "VIOLATION: writer {w}: acknowledged batch {} lost (store has {marker})",
                acked[w]
            );
        }
        if marker < *done {
            summary.violations += 1;
            println!("VIOLATION: writer {w}: store went back from batch {done} to {marker}");
            continue;
        }
        for index in *done + 1..=marker {
            for (k, v) in batch_ops(cfg, w as u32, index) {
                match v {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
            }
        }
        summary.batches_verified += marker - *done;
        *done = marker;
        summary.keys_checked += items.len() as u64;
        compare(w, model, &items, summary);
    }
    Ok(())
}

fn compare(w: usize, model: &Model, items: &[(Vec<u8>, Vec<u8>)], summary: &mut StressSummary) {
    let expect: Vec<(Vec<u8>, &Vec<u8>)> = model
        .iter()
        .map(|(k, v)| (storage_key(w as u32, *k), v))
        .collect();
    if expect.len() != items.len() {
        summary.violations += 1;
        println!(
            "VIOLATION: writer {w}: {} keys stored, model has {}",
            items.len(),
            expect.len()
        );
    }
    for ((k, v), (ek, ev)) in items.iter().zip(expect.iter()) {
        if k != ek || v != *ev {
            summary.violations += 1;
            println!(
                "VIOLATION: writer {w}: key {} holds a wrong value (expected key {})",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(ek)
            );
            return;
        }
    }
}
