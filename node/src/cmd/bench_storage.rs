//! `shoal-node bench-storage`: the storage engine's figures, measured on one shard.
//!
//! Measures, in one run and on the same disk: the device's own 4 KiB O_DIRECT write +
//! fdatasync latency and random 4 KiB read latency (the baselines the targets refer to);
//! durable random puts at several writer counts; random gets with the data in cache and
//! with the data ten times the cache; 100-item range scans; and recovery speed of a large
//! log. Peers (RocksDB's `db_bench`) run separately with the same key and value sizes; see
//! `bench/README.md` for the exact commands.
//!
//! Latencies are recorded in HDR histograms (microseconds); nothing here is a pass/fail
//! assertion.

use std::cell::RefCell;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::storage::dma::DmaDisk;
use crate::storage::io::{BLOCK_SIZE, Disk, DiskFile};
use crate::storage::{Engine, EngineConfig, Op};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Scratch directory (each test uses a fresh subdirectory, removed afterwards).
    pub dir: PathBuf,
    /// Duration of each timed test.
    pub seconds: f64,
    /// Writer counts for the put test.
    pub writers: Vec<usize>,
    /// Value size in bytes.
    pub value_size: usize,
    /// Keys loaded for the read tests.
    pub keys: u64,
    /// Cache budget for the in-cache tests.
    pub cache_bytes: usize,
    /// Log bytes written before the recovery test.
    pub recovery_bytes: u64,
    /// Where the recovery tests keep the store they replay, to replay the same one again
    /// (None: written afresh each run).
    pub recovery_keep: Option<PathBuf>,
    /// Log flushes written at once.
    pub wal_flushes_in_flight: usize,
    /// Tests to run: disk, put, get, get10x, scan, recovery, recovery-cold.
    pub tests: Vec<String>,
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Test name.
    pub name: String,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Median latency.
    pub p50_us: f64,
    /// 99th percentile latency.
    pub p99_us: f64,
    /// Extra figures.
    pub note: String,
}

const KEY_LEN: usize = 16;

fn key(i: u64) -> Vec<u8> {
    // Like db_bench: fixed-width keys; spread by a bijective mix so inserts are random.
    let mixed = i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
    format!("{mixed:016x}").into_bytes()
}

/// Latencies in nanoseconds, 1 ns to 60 s, 3 significant digits.
fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

fn row(name: &str, h: &Histogram<u64>, elapsed: Duration, note: String) -> Row {
    Row {
        name: name.to_string(),
        ops_per_sec: h.len() as f64 / elapsed.as_secs_f64(),
        p50_us: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: h.value_at_quantile(0.99) as f64 / 1000.0,
        note,
    }
}

/// Runs the selected tests and prints a table; returns the rows.
pub fn run(cfg: BenchConfig) -> anyhow::Result<Vec<Row>> {
    std::fs::create_dir_all(&cfg.dir)?;
    let rows = crate::rt::run_local("bench-storage", 4 << 20, move || async move {
        let mut rows = Vec::new();
        let want = |t: &str| cfg.tests.iter().any(|x| x == t || x == "all");
        if want("disk") {
            rows.extend(disk_baseline(&cfg).await?);
        }
        if want("put") {
            for &w in &cfg.writers {
                rows.push(puts(&cfg, w).await?);
            }
        }
        if want("get") {
            rows.push(gets(&cfg).await?);
        }
        if want("get10x") {
            rows.extend(gets_beyond_cache(&cfg).await?);
        }
        if want("scan") {
            rows.push(scans(&cfg).await?);
        }
        if want("recovery") {
            rows.push(recovery(&cfg, 0).await?);
        }
        if want("recovery-cold") {
            rows.push(recovery(&cfg, cfg.keys).await?);
        }
        anyhow::Ok(rows)
    })??;
    println!(
        "{:<32} {:>12} {:>10} {:>10}  notes",
        "test", "ops/s", "p50 us", "p99 us"
    );
    for r in &rows {
        println!(
            "{:<32} {:>12.0} {:>10.2} {:>10.2}  {}",
            r.name, r.ops_per_sec, r.p50_us, r.p99_us, r.note
        );
    }
    Ok(rows)
}

fn scratch(cfg: &BenchConfig, name: &str) -> anyhow::Result<PathBuf> {
    let d = cfg.dir.join(name);
    if d.exists() {
        std::fs::remove_dir_all(&d)?;
    }
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// 4 KiB O_DIRECT append + fdatasync, and random 4 KiB O_DIRECT reads.
async fn disk_baseline(cfg: &BenchConfig) -> anyhow::Result<Vec<Row>> {
    let dir = scratch(cfg, "disk")?;
    let disk = DmaDisk::new(&dir).await?;
    let file = disk.open(&dir.join("baseline"), true).await?;
    // Zero-fill first, as the log does, so each fdatasync is a pure data flush rather than
    // a file-size (journal) update.
    let size = 256u64 << 20;
    let mut at = 0u64;
    while at < size {
        file.write_at(disk.alloc(128 << 10), at).await?;
        at += 128 << 10;
    }
    file.fdatasync().await?;
    let mut h = hist();
    let start = Instant::now();
    let mut pos = 0u64;
    while start.elapsed().as_secs_f64() < cfg.seconds && pos < size {
        let t = Instant::now();
        let mut buf = disk.alloc(BLOCK_SIZE);
        buf[0] = pos as u8;
        file.write_at(buf, pos).await?;
        file.fdatasync().await?;
        h.record(t.elapsed().as_nanos() as u64)?;
        pos += BLOCK_SIZE as u64;
    }
    let writes = row(
        "disk 4k write+fdatasync",
        &h,
        start.elapsed(),
        String::new(),
    );
    let mut rng = Pcg64::seed_from_u64(1);
    let mut h = hist();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < cfg.seconds {
        let block = rng.random_range(0..size / BLOCK_SIZE as u64);
        let t = Instant::now();
        file.read_at(block * BLOCK_SIZE as u64, BLOCK_SIZE).await?;
        h.record(t.elapsed().as_nanos() as u64)?;
    }
    let reads = row("disk 4k random read", &h, start.elapsed(), String::new());
    drop(file);
    std::fs::remove_dir_all(&dir).ok();
    Ok(vec![writes, reads])
}

fn bench_engine_config(cfg: &BenchConfig, cache_bytes: usize) -> EngineConfig {
    let mut c = EngineConfig::with_cache_bytes(cache_bytes);
    c.checkpoint_interval = Duration::from_secs(5);
    c.wal.flushes_in_flight_max = cfg.wal_flushes_in_flight;
    c
}

/// Durable random puts from `writers` concurrent tasks.
async fn puts(cfg: &BenchConfig, writers: usize) -> anyhow::Result<Row> {
    let dir = scratch(cfg, &format!("put-{writers}"))?;
    let disk = DmaDisk::new(&dir).await?;
    let engine = Engine::open(disk, &dir, bench_engine_config(cfg, cfg.cache_bytes)).await?;
    let queues = crate::rt::create_queues();
    engine.start_background(Some(queues.background));
    let h = Rc::new(RefCell::new(hist()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(cfg.seconds);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let engine = engine.clone();
        let h = h.clone();
        let value = vec![0x61u8; cfg.value_size];
        tasks.push(glommio::spawn_local(async move {
            let mut rng = Pcg64::seed_from_u64(w as u64);
            while Instant::now() < deadline {
                let op = Op {
                    key: key(rng.random()),
                    value: Some(value.clone()),
                };
                let t = Instant::now();
                engine.commit(1, vec![op]).await?;
                h.borrow_mut().record(t.elapsed().as_nanos() as u64)?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    let stats = engine.stats();
    let per_flush = stats.wal.records as f64 / stats.wal.flushes.max(1) as f64;
    engine.close().await?;
    std::fs::remove_dir_all(&dir).ok();
    let note = format!("{per_flush:.1} records per fsync");
    Ok(row(
        &format!("put durable, {writers} writers"),
        &h.borrow(),
        elapsed,
        note,
    ))
}

/// Loads `keys` keys in batches of 1000 and checkpoints.
async fn load(engine: &Engine<DmaDisk>, keys: u64, value_size: usize) -> anyhow::Result<()> {
    let value = vec![0x62u8; value_size];
    let mut i = 0;
    while i < keys {
        let n = 1000.min(keys - i);
        let ops = (i..i + n)
            .map(|k| Op {
                key: key(k),
                value: Some(value.clone()),
            })
            .collect();
        engine.commit(1, ops).await?;
        i += n;
    }
    engine.checkpoint().await?;
    Ok(())
}

/// Random point gets with the data in cache (one reader: CPU bound).
async fn gets(cfg: &BenchConfig) -> anyhow::Result<Row> {
    let dir = scratch(cfg, "get")?;
    let disk = DmaDisk::new(&dir).await?;
    let engine = Engine::open(disk, &dir, bench_engine_config(cfg, cfg.cache_bytes)).await?;
    load(&engine, cfg.keys, cfg.value_size).await?;
    for k in 0..cfg.keys {
        engine.get(&key(k)).await?;
    }
    let row = timed_gets(&engine, cfg, cfg.keys, 1, "get, data in cache").await?;
    engine.halt().await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(row)
}

/// Random point gets with the data ten times the cache, at 1 and 16 readers.
async fn gets_beyond_cache(cfg: &BenchConfig) -> anyhow::Result<Vec<Row>> {
    let dir = scratch(cfg, "get10x")?;
    let disk = DmaDisk::new(&dir).await?;
    let entry = (KEY_LEN + cfg.value_size + 7) as u64;
    let cache = 16usize << 20;
    let keys = (cache as u64 * 10 / entry).max(cfg.keys);
    let engine = Engine::open(disk, &dir, bench_engine_config(cfg, cache)).await?;
    load(&engine, keys, cfg.value_size).await?;
    let mut rows = Vec::new();
    for readers in [1, 16] {
        let title = format!("get, data 10x cache, {readers} rd");
        rows.push(timed_gets(&engine, cfg, keys, readers, &title).await?);
    }
    engine.halt().await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(rows)
}

async fn timed_gets(
    engine: &Engine<DmaDisk>,
    cfg: &BenchConfig,
    keys: u64,
    readers: u64,
    title: &str,
) -> anyhow::Result<Row> {
    let before = engine.stats().tree.cache;
    let h = Rc::new(RefCell::new(hist()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(cfg.seconds);
    let mut tasks = Vec::new();
    for t in 0..readers {
        let engine = engine.clone();
        let h = h.clone();
        tasks.push(glommio::spawn_local(async move {
            let mut rng = Pcg64::seed_from_u64(100 + t);
            while Instant::now() < deadline {
                let k = key(rng.random_range(0..keys));
                let t0 = Instant::now();
                let v = engine.get(&k).await?;
                h.borrow_mut().record(t0.elapsed().as_nanos() as u64)?;
                anyhow::ensure!(v.is_some(), "loaded key missing");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    let after = engine.stats().tree.cache;
    let gets = h.borrow().len().max(1);
    let reads_per_get = (after.misses - before.misses) as f64 / gets as f64;
    let data_mb = keys * (KEY_LEN + cfg.value_size + 7) as u64 / (1 << 20);
    let note = format!(
        "{keys} keys (~{data_mb} MiB), cache {} MiB, {reads_per_get:.2} disk reads per get",
        after.bytes >> 20
    );
    Ok(row(title, &h.borrow(), elapsed, note))
}

/// 100-item forward range scans from random keys.
async fn scans(cfg: &BenchConfig) -> anyhow::Result<Row> {
    let dir = scratch(cfg, "scan")?;
    let disk = DmaDisk::new(&dir).await?;
    let engine = Engine::open(disk, &dir, bench_engine_config(cfg, cfg.cache_bytes)).await?;
    load(&engine, cfg.keys, cfg.value_size).await?;
    let mut rng = Pcg64::seed_from_u64(7);
    let mut h = hist();
    let start = Instant::now();
    let mut items = 0usize;
    while start.elapsed().as_secs_f64() < cfg.seconds {
        let from = key(rng.random_range(0..cfg.keys));
        let t = Instant::now();
        let got = engine
            .scan(
                Bound::Included(&from),
                Bound::Unbounded,
                false,
                100,
                usize::MAX,
            )
            .await?;
        h.record(t.elapsed().as_nanos() as u64)?;
        items += got.len();
    }
    let elapsed = start.elapsed();
    engine.halt().await?;
    std::fs::remove_dir_all(&dir).ok();
    let note = format!("{:.0} items/s", items as f64 / elapsed.as_secs_f64());
    Ok(row("scan 100 items", &h, elapsed, note))
}

/// Writes `recovery_bytes` of log without a checkpoint, then times a reopen. With
/// `base_keys`, the log follows a checkpointed tree of that many keys (the log's first
/// keys overwrite them), which the reopen finds cold: replay then reads the leaves it
/// changes.
async fn recovery(cfg: &BenchConfig, base_keys: u64) -> anyhow::Result<Row> {
    let dir = scratch(cfg, "recovery")?;
    let mut config = bench_engine_config(cfg, 8 << 30);
    config.checkpoint_interval = Duration::from_secs(3600);
    config.checkpoint_dirty_bytes = 8 << 30;
    config.dirty_bytes_max = 8 << 30;
    config.wal.segment_size = 256 << 20;
    let name = if base_keys > 0 {
        "recovery-cold"
    } else {
        "recovery"
    };
    let kept = cfg.recovery_keep.as_ref().map(|k| k.join(name));
    let wal_bytes = match &kept {
        Some(kept) if kept.join(KEPT_MARK).exists() => {
            println!("{name}: replaying a copy of {}", kept.display());
            copy_uncached(kept, &dir)?;
            dir_bytes(&dir.join(crate::storage::engine::WAL_DIR_NAME))?
        }
        _ => {
            if base_keys > 0 {
                let disk = DmaDisk::new(&dir).await?;
                let engine = Engine::open(disk, &dir, config.clone()).await?;
                load(&engine, base_keys, cfg.value_size).await?;
                engine.close().await?;
            }
            // The load runs on its own executor, which ends without a checkpoint or a clean
            // close, as a killed process would.
            let (load_dir, load_config, load_cfg) = (dir.clone(), config.clone(), cfg.clone());
            let written = crate::rt::run_local("bench-load", 4 << 20, move || async move {
                write_log_only(&load_dir, &load_config, &load_cfg).await
            })??;
            if let Some(kept) = &kept {
                if kept.exists() {
                    std::fs::remove_dir_all(kept)?;
                }
                copy_uncached(&dir, kept)?;
                std::fs::write(kept.join(KEPT_MARK), b"")?;
                println!(
                    "{name}: kept the store in {} for later runs",
                    kept.display()
                );
            }
            written
        }
    };
    let disk = DmaDisk::new(&dir).await?;
    let start = Instant::now();
    let engine = Engine::open(disk, &dir, config).await?;
    let elapsed = start.elapsed();
    let replayed = engine.stats().wal.recovery.record_bytes;
    engine.halt().await?;
    std::fs::remove_dir_all(&dir).ok();
    let mbps = replayed as f64 / elapsed.as_secs_f64() / (1 << 20) as f64;
    let cold = match base_keys {
        0 => String::new(),
        n => format!(" onto {n} checkpointed keys"),
    };
    let note = format!(
        "{:.0} MiB of log ({:.0} MiB records){cold} in {:.2} s = {mbps:.0} MiB/s",
        wal_bytes as f64 / (1 << 20) as f64,
        replayed as f64 / (1 << 20) as f64,
        elapsed.as_secs_f64()
    );
    Ok(Row {
        name: name.into(),
        ops_per_sec: mbps,
        p50_us: 0.0,
        p99_us: 0.0,
        note,
    })
}

/// Marks a kept recovery store as whole (written last).
const KEPT_MARK: &str = "bench-kept";

/// Copies the files of `from` (and its subdirectories) into `to`, durably, and drops both
/// copies from the page cache: O_DIRECT reads of cached pages are several times slower
/// than of the disk, and the replay must read the disk as after a restart.
fn copy_uncached(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_uncached(&src, &dst)?;
            continue;
        }
        if entry.file_name() == KEPT_MARK {
            continue;
        }
        std::fs::copy(&src, &dst).with_context(|| format!("copy {}", src.display()))?;
        std::fs::File::open(&dst)?.sync_all()?;
        for path in [&src, &dst] {
            let file = std::fs::File::open(path)?;
            // SAFETY: plain advice on an open descriptor; no memory is involved.
            let rc = unsafe {
                libc::posix_fadvise(
                    std::os::fd::AsRawFd::as_raw_fd(&file),
                    0,
                    0,
                    libc::POSIX_FADV_DONTNEED,
                )
            };
            anyhow::ensure!(rc == 0, "posix_fadvise {}: error {rc}", path.display());
        }
    }
    std::fs::File::open(to)?.sync_all()?;
    Ok(())
}

/// Bytes of the files in `dir`.
fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// Fills the log with batches of 100 puts and stops without a checkpoint, as a kill would.
async fn write_log_only(
    dir: &Path,
    config: &EngineConfig,
    cfg: &BenchConfig,
) -> anyhow::Result<u64> {
    let disk = DmaDisk::new(dir).await?;
    let engine = Engine::open(disk, dir, config.clone())
        .await
        .context("open for load")?;
    let value = vec![0x63u8; cfg.value_size];
    let mut k = 0u64;
    let mut tasks = Vec::new();
    let per_batch = ((KEY_LEN + cfg.value_size + 9) * 100) as u64;
    let batches = cfg.recovery_bytes / per_batch;
    for w in 0..16u64 {
        let engine = engine.clone();
        let value = value.clone();
        let start = k;
        k += batches / 16;
        tasks.push(glommio::spawn_local(async move {
            for b in start..start + batches / 16 {
                let ops = (0..100)
                    .map(|i| Op {
                        key: key(b * 100 + i),
                        value: Some(value.clone()),
                    })
                    .collect();
                engine.commit(w + 1, ops).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await?;
    }
    let written = engine.stats().wal.bytes_written;
    engine.halt().await?;
    Ok(written)
}
