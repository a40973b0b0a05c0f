//! `shoal-node`: the storage node binary. `run` serves a node; the storage engine's tools
//! are `stress` (kill-and-verify torture), `fsck` (offline verification) and
//! `bench-storage`; `dev-certs` mints development certificates for the replication transport.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shoal_node::cmd::{bench_storage, stress};
use shoal_node::config::NodeConfig;
use shoal_node::replication::transport::certs::ensure_dev_certs;
use shoal_node::replication::transport::tls::check_cluster_name;
use shoal_node::server::start::run_node;
use shoal_node::storage::fsck::{Severity, fsck_data_dir};

/// mimalloc: thread-local heaps suit one executor per core; with glibc's malloc, requests'
/// and answers' buffers cost a node 13% of its CPU serving gets (perf, GetItem at 16 in
/// flight).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Shoal storage node.
#[derive(Parser)]
#[command(name = "shoal-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a storage node: one shard per core, each serving its own client port.
    Run {
        /// Configuration file (see node/shoal-node.example.toml for every key).
        #[arg(long)]
        config: Option<PathBuf>,
        /// This node's id (overrides the file).
        #[arg(long)]
        node_id: Option<u32>,
        /// Cluster file (overrides the file).
        #[arg(long)]
        cluster_file: Option<PathBuf>,
        /// Data directory (overrides the file).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Shards; 0 = one per CPU this process may use (overrides the file).
        #[arg(long)]
        shards: Option<u16>,
        /// Page cache per shard in bytes (overrides the file).
        #[arg(long)]
        cache_bytes: Option<usize>,
    },
    /// Random batches in a child process that is SIGKILLed at random moments; every
    /// recovery is checked against the expected state. Exits non-zero on any violation.
    Stress {
        /// Store directory (must be empty or absent; default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// How long to run.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Workload seed (default: random; printed first so a run can be replayed).
        #[arg(long)]
        seed: Option<u64>,
        /// Bytes per value.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Page cache budget of the engine under test.
        #[arg(long, default_value_t = 4 << 20)]
        cache_bytes: usize,
        /// Concurrent writers in the child.
        #[arg(long, default_value_t = 8)]
        writers: u32,
        /// Keys per writer.
        #[arg(long, default_value_t = 2000)]
        keys: u32,
    },
    /// Internal: the child process of `stress`.
    #[command(hide = true)]
    StressChild {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        value_size: usize,
        #[arg(long)]
        cache_bytes: usize,
        #[arg(long)]
        writers: u32,
        #[arg(long)]
        keys: u32,
    },
    /// Verifies every reachable page and every log record of every shard in a data
    /// directory; reports each problem with file, offset and reason. Read-only.
    Fsck {
        /// Node data directory (or one shard directory).
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Mints development certificates for the replication transport: a cluster CA (kept if
    /// DIR already holds one) and a certificate per node, named node<ID>.<CLUSTER>. For
    /// local clusters and tests; production brings its own CA.
    DevCerts {
        /// Directory for ca.pem, ca.key, node-<ID>.pem and node-<ID>.key.
        #[arg(long)]
        dir: PathBuf,
        /// Cluster name (as in the cluster file).
        #[arg(long)]
        cluster: String,
        /// Node ids to issue certificates for.
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<u32>,
    },
    /// Measures the storage engine (and the disk under it) on one shard.
    BenchStorage {
        /// Scratch directory (on the disk to measure).
        #[arg(long, default_value = "./shoal-bench-storage")]
        dir: PathBuf,
        /// Seconds per timed test.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Writer counts for durable puts.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        writers: Vec<usize>,
        /// Bytes per value.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// Keys loaded for the read and scan tests.
        #[arg(long, default_value_t = 200_000)]
        keys: u64,
        /// Page cache for the in-cache tests.
        #[arg(long, default_value_t = 256 << 20)]
        cache_bytes: usize,
        /// Log bytes to replay in the recovery test.
        #[arg(long, default_value_t = 1 << 30)]
        recovery_bytes: u64,
        /// Keep the store each recovery test replays in DIR/<test> and, on later runs,
        /// replay a fresh copy of it instead of writing a new one (the same log for
        /// binaries compared in turn, and no minutes of writing per run). The kept store
        /// wins over --recovery-bytes, --value-size and --keys: delete it to write anew.
        #[arg(long, value_name = "DIR")]
        recovery_keep: Option<PathBuf>,
        /// Log flushes written at once (the node's `storage.wal_flushes_in_flight`).
        #[arg(long, default_value_t = shoal_node::storage::wal::FLUSHES_IN_FLIGHT_DEFAULT)]
        wal_flushes_in_flight: usize,
        /// Tests: disk, put, get, get10x, scan, recovery, recovery-cold (the log over a
        /// checkpointed tree of --keys keys, cold at the reopen), or all.
        #[arg(long, value_delimiter = ',', default_value = "all")]
        tests: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Stress recoveries cut torn tails by design; only errors are news there.
    let default_level = match cli.command {
        Cmd::Stress { .. } | Cmd::StressChild { .. } => "error",
        Cmd::Run { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shoal-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Run {
            config,
            node_id,
            cluster_file,
            data_dir,
            shards,
            cache_bytes,
        } => {
            let mut cfg = match &config {
                Some(path) => NodeConfig::load(path).map_err(anyhow::Error::msg)?,
                None => {
                    let (Some(node_id), Some(cluster_file), Some(data_dir)) =
                        (node_id, cluster_file.clone(), data_dir.clone())
                    else {
                        anyhow::bail!(
                            "give --config FILE, or --node-id, --cluster-file and --data-dir"
                        );
                    };
                    NodeConfig {
                        node_id,
                        cluster_file,
                        data_dir,
                        shards: 0,
                        storage: Default::default(),
                        raft: Default::default(),
                        limits: Default::default(),
                        runtime: Default::default(),
                        tls: None,
                    }
                }
            };
            if let Some(v) = node_id {
                cfg.node_id = v;
            }
            if let Some(v) = cluster_file {
                cfg.cluster_file = v;
            }
            if let Some(v) = data_dir {
                cfg.data_dir = v;
            }
            if let Some(v) = shards {
                cfg.shards = v;
            }
            if let Some(v) = cache_bytes {
                cfg.storage.cache_bytes = v;
            }
            run_node(cfg).map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Stress {
            dir,
            seconds,
            seed,
            value_size,
            cache_bytes,
            writers,
            keys,
        } => {
            let seed = seed.unwrap_or_else(random_seed);
            let (dir, temporary) = match dir {
                Some(d) => (d, false),
                None => (
                    std::env::temp_dir()
                        .join(format!("shoal-stress-{seed}-{}", std::process::id())),
                    true,
                ),
            };
            let cfg = stress::StressConfig {
                dir: dir.clone(),
                seed,
                value_size,
                cache_bytes,
                writers: writers.max(1),
                keys: keys.max(1),
            };
            let summary = stress::run_parent(cfg, seconds)?;
            if summary.violations > 0 {
                println!("stress: store kept for inspection at {}", dir.display());
                return Ok(ExitCode::FAILURE);
            }
            if temporary {
                std::fs::remove_dir_all(&dir).ok();
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::StressChild {
            dir,
            seed,
            value_size,
            cache_bytes,
            writers,
            keys,
        } => {
            stress::run_child(stress::StressConfig {
                dir,
                seed,
                value_size,
                cache_bytes,
                writers,
                keys,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Fsck { data_dir } => {
            let report = fsck_data_dir(&data_dir)
                .with_context(|| format!("check {}", data_dir.display()))?;
            for f in &report.findings {
                let tag = match f.severity {
                    Severity::Problem => "PROBLEM",
                    Severity::Note => "note",
                };
                println!(
                    "{tag}: {} offset {}: {}",
                    f.path.display(),
                    f.offset,
                    f.reason
                );
            }
            println!(
                "fsck: {} shards, {} extents, {} keys, {} log records, {} problems",
                report.shards.len(),
                report.extents,
                report.keys,
                report.records,
                report.problems()
            );
            Ok(if report.problems() > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::DevCerts {
            dir,
            cluster,
            nodes,
        } => {
            check_cluster_name(&cluster)?;
            let written = ensure_dev_certs(&dir, &cluster, &nodes).map_err(anyhow::Error::msg)?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            if written.is_empty() {
                println!("{} already holds every certificate", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::BenchStorage {
            dir,
            seconds,
            writers,
            value_size,
            keys,
            cache_bytes,
            recovery_bytes,
            recovery_keep,
            wal_flushes_in_flight,
            tests,
        } => {
            bench_storage::run(bench_storage::BenchConfig {
                dir,
                seconds,
                writers,
                value_size,
                keys,
                cache_bytes,
                recovery_bytes,
                recovery_keep,
                wal_flushes_in_flight,
                tests,
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ ((std::process::id() as u64) << 20)) % 1_000_000_000
}
