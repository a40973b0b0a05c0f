//! The load engine: a load phase, then the measured workload, on `--threads` OS threads (each
//! pinned to a core, each with a current-thread tokio runtime) running `--concurrency` tasks.
//!
//! Closed loop: a task sends its next request when the previous reply arrives. Open loop
//! (`--rate R`): operation `j` of the run is due at `t0 + j / R`; a free task claims the next
//! slot, and if that slot is already due (every task was busy: the target fell behind), its
//! latency counts from the intended start, so the queueing delay a real client would see is
//! recorded (coordinated omission corrected, as in wrk2). If the slot is in the future the
//! task sleeps, and latency counts from the actual send, so timer lateness is not charged to
//! the target. Service time (send to reply) is recorded separately in both modes.
//! Invariant: every loop ends by `--time-limit` (the hard end) at the latest; a run that hits
//! it says so (`timed_out`). Operations are bounded by `--op-timeout`.
//! Does not format reports (see `report`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::config::{Config, LoopMode};
use crate::keys::{KeyChooser, ZIPFIAN_THETA, fnv64, zeta};
use crate::stats::Stats;
use crate::target::{Found, Layout, OpError, Session, TargetSpec};
use crate::workload::{OpKind, WorkloadName, choose_op};

/// How often the progress line is printed.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// How often the main thread checks whether the load threads are done.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Extra time past the hard end for threads to notice it and return.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The outcome of the load phase.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub records: u64,
    pub elapsed: Duration,
    pub stats: Stats,
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub target: TargetSpec,
    pub config: Config,
    pub load: Option<LoadResult>,
    pub stats: Stats,
    /// From the measurement start to the last measured reply.
    pub elapsed: Duration,
    pub timed_out: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Load,
    Measure,
}

struct Timeline {
    t0: Instant,
    measure_start: Instant,
    end: Option<Instant>,
}

/// State shared by every thread and task of one phase.
struct Shared {
    config: Config,
    layout: Layout,
    phase: Phase,
    hard_end: Instant,
    /// Load: next record to insert. Open loop: next slot of the schedule.
    next: AtomicU64,
    /// Measured operations claimed (for `--operations`).
    measured: AtomicU64,
    /// Records inserted or being inserted: the frontier of key choice.
    frontier: AtomicU64,
    stop: AtomicBool,
    timed_out: AtomicBool,
    timeline: OnceLock<Timeline>,
    /// ζ(items) of the key chooser, computed once.
    zetan: f64,
}

/// Runs `config` against `target`: prepare, load phase unless skipped, measurement.
pub fn run(target: &TargetSpec, config: &Config) -> anyhow::Result<RunResult> {
    let hard_end = Instant::now() + Duration::from_secs_f64(config.time_limit_s);
    let layout = Layout::new(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let prepare =
        async { tokio::time::timeout(Duration::from_secs(60), target.prepare(&layout)).await };
    match runtime.block_on(prepare) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => bail!("{}: {e}", target.name),
        Err(_) => bail!("{}: preparing the target took over 60 s", target.name),
    }
    drop(runtime);
    let load = if config.skip_load {
        None
    } else {
        let shared = shared(config, &layout, Phase::Load, hard_end);
        let (stats, elapsed) = run_phase(target, &shared)?;
        if shared.timed_out.load(Ordering::Relaxed) {
            bail!(
                "{}: the load phase did not finish within --time-limit",
                target.name
            );
        }
        Some(LoadResult {
            records: config.records,
            elapsed,
            stats,
        })
    };
    let shared = shared(config, &layout, Phase::Measure, hard_end);
    let (stats, elapsed) = run_phase(target, &shared)?;
    Ok(RunResult {
        target: target.clone(),
        config: config.clone(),
        load,
        stats,
        elapsed,
        timed_out: shared.timed_out.load(Ordering::Relaxed),
    })
}

fn shared(config: &Config, layout: &Layout, phase: Phase, hard_end: Instant) -> Arc<Shared> {
    let items = key_items(config);
    let zetan = match config.distribution {
        crate::workload::Distribution::Uniform => 0.0,
        _ => zeta(0, items, ZIPFIAN_THETA, 0.0),
    };
    Arc::new(Shared {
        config: config.clone(),
        layout: layout.clone(),
        phase,
        hard_end,
        next: AtomicU64::new(0),
        measured: AtomicU64::new(0),
        frontier: AtomicU64::new(items),
        stop: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        timeline: OnceLock::new(),
        zetan,
    })
}

/// What the key chooser ranges over: partitions for `query`, records otherwise.
fn key_items(config: &Config) -> u64 {
    if config.workload == WorkloadName::Query {
        config.partitions()
    } else {
        config.records
    }
}

struct ThreadOutcome {
    last_done: Option<Instant>,
}

/// Runs one phase on every thread; returns the merged statistics and the measured time.
fn run_phase(target: &TargetSpec, shared: &Arc<Shared>) -> anyhow::Result<(Stats, Duration)> {
    let threads = shared.config.threads as usize;
    let connected = Arc::new(Barrier::new(threads + 1));
    let go = Arc::new(Barrier::new(threads + 1));
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut handles = Vec::new();
    let mut all_stats = Vec::new();
    for index in 0..threads {
        let stats = Arc::new(Mutex::new(Stats::default()));
        all_stats.push(stats.clone());
        let core = (shared.config.pin && !cores.is_empty())
            .then(|| cores[cores.len() - 1 - index % cores.len()]);
        let (shared, target) = (shared.clone(), target.clone());
        let (connected, go) = (connected.clone(), go.clone());
        let handle = std::thread::Builder::new()
            .name(format!("load-{index}"))
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                thread_main(index, &shared, &target, &stats, &connected, &go)
            })
            .context("spawn a load thread")?;
        handles.push(handle);
    }
    connected.wait();
    let t0 = Instant::now();
    let warmup = match shared.phase {
        Phase::Load => Duration::ZERO,
        Phase::Measure => Duration::from_secs_f64(shared.config.warmup_s),
    };
    let measure_start = t0 + warmup;
    let end = match shared.phase {
        Phase::Load => None,
        Phase::Measure => shared.config.duration().map(|d| measure_start + d),
    };
    let timeline = Timeline {
        t0,
        measure_start,
        end,
    };
    assert!(
        shared.timeline.set(timeline).is_ok(),
        "the timeline is set once per phase"
    );
    go.wait();
    progress_until_done(shared, &handles, &all_stats);
    let mut stats = Stats::default();
    let mut last_done: Option<Instant> = None;
    let mut failures = Vec::new();
    for handle in handles {
        match handle.join() {
            Ok(Ok(outcome)) => last_done = last_done.max(outcome.last_done),
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("a load thread panicked".to_string()),
        }
    }
    if !failures.is_empty() {
        bail!("{}: {}", target.name, failures.join("; "));
    }
    for s in &all_stats {
        stats.merge(&s.lock().expect("no load thread panicked"));
    }
    let elapsed = last_done.map_or(Duration::ZERO, |d| {
        d.saturating_duration_since(measure_start)
    });
    Ok((stats, elapsed))
}

/// Prints the progress line every `PROGRESS_INTERVAL` until every thread has returned (they
/// all return by the hard end plus the operation timeout).
fn progress_until_done(
    shared: &Shared,
    handles: &[std::thread::JoinHandle<Result<ThreadOutcome, String>>],
    stats: &[Arc<Mutex<Stats>>],
) {
    let timeline = shared.timeline.get().expect("set before go");
    let give_up =
        shared.hard_end + Duration::from_secs_f64(shared.config.op_timeout_s) + SHUTDOWN_GRACE;
    let mut next_print = Instant::now() + PROGRESS_INTERVAL;
    let mut previous = (Instant::now(), 0u64);
    while !handles.iter().all(|h| h.is_finished()) {
        let now = Instant::now();
        if now >= give_up {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        if now >= shared.hard_end {
            shared.stop.store(true, Ordering::Relaxed);
            shared.timed_out.store(true, Ordering::Relaxed);
        }
        if !shared.config.quiet && now >= next_print {
            let mut merged = Stats::default();
            for s in stats {
                merged.merge(&s.lock().expect("no load thread panicked"));
            }
            let total = merged.total();
            let count = total.count() + total.errors;
            let rate = (count - previous.1.min(count)) as f64 / (now - previous.0).as_secs_f64();
            previous = (now, count);
            let label = match shared.phase {
                Phase::Load => format!("load {count}/{}", shared.config.records),
                Phase::Measure if now < timeline.measure_start => "warmup".to_string(),
                Phase::Measure => format!("run {count} ops"),
            };
            let p99_ms = total.latency.value_at_quantile(0.99) as f64 / 1e6;
            let since = (now - timeline.t0).as_secs_f64();
            eprintln!(
                "[{since:6.1}s] {label}: {rate:.0} ops/s, {} errors, p99 {p99_ms:.3} ms",
                total.errors
            );
            next_print += PROGRESS_INTERVAL;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn thread_main(
    index: usize,
    shared: &Arc<Shared>,
    target: &TargetSpec,
    stats: &Arc<Mutex<Stats>>,
    connected: &Barrier,
    go: &Barrier,
) -> Result<ThreadOutcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        connected.wait();
        go.wait();
        return Err("cannot build a tokio runtime".into());
    };
    // Load tasks are the runtime's own tasks (not a LocalSet's): a client library's
    // connection tasks then wake them within one scheduler tick, where waking a LocalSet
    // task from a runtime task cost an extra event-loop turn (a zero-timeout epoll_wait)
    // per request.
    runtime.block_on(async {
        let threads = shared.config.threads as usize;
        let concurrency = shared.config.concurrency as usize;
        let tasks = concurrency / threads + usize::from(index < concurrency % threads);
        let setup = async {
            let op_timeout = Duration::from_secs_f64(shared.config.op_timeout_s);
            let thread_target = target.connect_thread(op_timeout).await?;
            let mut sessions = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                sessions.push(thread_target.session(&shared.layout).await?);
            }
            Ok::<_, String>((thread_target, sessions))
        };
        let limit = shared.hard_end.saturating_duration_since(Instant::now());
        let setup = match tokio::time::timeout(limit, setup).await {
            Ok(result) => result,
            Err(_) => Err("connecting took longer than --time-limit".into()),
        };
        if setup.is_err() {
            shared.stop.store(true, Ordering::Relaxed);
        }
        // Every thread reaches both barriers, connected or not, so none waits forever.
        connected.wait();
        go.wait();
        let (_thread_target, sessions) = setup?;
        let mut joins = Vec::new();
        for (task, session) in sessions.into_iter().enumerate() {
            let seed = shared.config.seed ^ fnv64((index as u64) << 32 | task as u64);
            let (shared, stats) = (shared.clone(), stats.clone());
            joins.push(tokio::task::spawn(async move {
                task_main(&shared, session, &stats, Pcg64Mcg::seed_from_u64(seed)).await
            }));
        }
        let mut last_done = None;
        for join in joins {
            let done = join.await.map_err(|e| format!("load task failed: {e}"))?;
            last_done = last_done.max(done);
        }
        Ok(ThreadOutcome { last_done })
    })
}

/// One task of one phase; returns the time of its last measured reply.
async fn task_main(
    shared: &Shared,
    mut session: Session,
    stats: &Mutex<Stats>,
    mut rng: Pcg64Mcg,
) -> Option<Instant> {
    match (shared.phase, shared.config.loop_mode) {
        (Phase::Load, _) => load_task(shared, &mut session, stats).await,
        (Phase::Measure, LoopMode::Closed) => {
            closed_task(shared, &mut session, stats, &mut rng).await
        }
        (Phase::Measure, LoopMode::Open) => open_task(shared, &mut session, stats, &mut rng).await,
    }
}

async fn load_task(
    shared: &Shared,
    session: &mut Session,
    stats: &Mutex<Stats>,
) -> Option<Instant> {
    let mut last_done = None;
    // Bounded by the record count and the hard end.
    loop {
        if stopped(shared) {
            break;
        }
        let record = shared.next.fetch_add(1, Ordering::Relaxed);
        if record >= shared.config.records {
            break;
        }
        let started = Instant::now();
        let result = execute(shared, session, OpKind::Insert, record, 1).await;
        let done = Instant::now();
        record_outcome(
            stats,
            OpKind::Insert,
            result,
            done - started,
            done - started,
        );
        last_done = Some(done);
    }
    last_done
}

async fn closed_task(
    shared: &Shared,
    session: &mut Session,
    stats: &Mutex<Stats>,
    rng: &mut Pcg64Mcg,
) -> Option<Instant> {
    let timeline = shared.timeline.get().expect("set before go");
    let mut chooser = chooser(shared);
    let mut last_done = None;
    // Bounded by --operations or --duration, and by the hard end.
    loop {
        if stopped(shared) {
            break;
        }
        let now = Instant::now();
        let measured = now >= timeline.measure_start;
        if measured && !claim_measured(shared, timeline, now) {
            break;
        }
        let (kind, record, length) = next_op(shared, &mut chooser, rng);
        let started = Instant::now();
        let result = execute(shared, session, kind, record, length).await;
        let done = Instant::now();
        if measured {
            record_outcome(stats, kind, result, done - started, done - started);
            last_done = Some(done);
        }
    }
    last_done
}

async fn open_task(
    shared: &Shared,
    session: &mut Session,
    stats: &Mutex<Stats>,
    rng: &mut Pcg64Mcg,
) -> Option<Instant> {
    let timeline = shared.timeline.get().expect("set before go");
    let rate = shared.config.rate_per_s.expect("open loop has a rate");
    let mut chooser = chooser(shared);
    let mut last_done = None;
    // Bounded by --operations or --duration, and by the hard end.
    loop {
        if stopped(shared) {
            break;
        }
        let slot = shared.next.fetch_add(1, Ordering::Relaxed);
        let intended = timeline.t0 + Duration::from_secs_f64(slot as f64 / rate);
        if intended >= shared.hard_end {
            shared.timed_out.store(true, Ordering::Relaxed);
            break;
        }
        let measured = intended >= timeline.measure_start;
        if measured && !claim_measured(shared, timeline, intended) {
            break;
        }
        let behind = Instant::now() >= intended;
        if !behind {
            tokio::time::sleep_until(intended.into()).await;
        }
        let (kind, record, length) = next_op(shared, &mut chooser, rng);
        let started = Instant::now();
        let result = execute(shared, session, kind, record, length).await;
        let done = Instant::now();
        if measured {
            let from = if behind { intended } else { started };
            record_outcome(stats, kind, result, done - from, done - started);
            last_done = Some(done);
        }
    }
    last_done
}

fn stopped(shared: &Shared) -> bool {
    if Instant::now() >= shared.hard_end {
        shared.timed_out.store(true, Ordering::Relaxed);
        return true;
    }
    shared.stop.load(Ordering::Relaxed)
}

/// Whether a measured operation starting (or due) at `at` may run.
fn claim_measured(shared: &Shared, timeline: &Timeline, at: Instant) -> bool {
    if timeline.end.is_some_and(|end| at >= end) {
        return false;
    }
    match shared.config.operations {
        Some(n) => shared.measured.fetch_add(1, Ordering::Relaxed) < n,
        None => true,
    }
}

fn chooser(shared: &Shared) -> KeyChooser {
    KeyChooser::new(
        shared.config.distribution,
        key_items(&shared.config),
        shared.zetan,
    )
}

/// The next operation: its kind, record (partition for `query`) and scan length.
fn next_op(shared: &Shared, chooser: &mut KeyChooser, rng: &mut Pcg64Mcg) -> (OpKind, u64, u64) {
    let kind = choose_op(shared.config.workload.mix(), rng);
    match kind {
        OpKind::Insert => (kind, shared.frontier.fetch_add(1, Ordering::Relaxed), 1),
        OpKind::Query => (kind, chooser.next(rng, key_items(&shared.config)), 1),
        OpKind::Scan => {
            let start = chooser.next(rng, shared.frontier.load(Ordering::Relaxed));
            (
                kind,
                start,
                rng.random_range(1..=u64::from(shared.config.scan_length_max)),
            )
        }
        OpKind::Read | OpKind::Update | OpKind::Rmw => (
            kind,
            chooser.next(rng, shared.frontier.load(Ordering::Relaxed)),
            1,
        ),
    }
}

async fn execute(
    shared: &Shared,
    session: &mut Session,
    kind: OpKind,
    record: u64,
    length: u64,
) -> Result<Found, OpError> {
    let limit = Duration::from_secs_f64(shared.config.op_timeout_s);
    match tokio::time::timeout(limit, session.execute(kind, record, length)).await {
        Ok(result) => result,
        Err(_) => Err(OpError(format!("timed out after {limit:?} (--op-timeout)"))),
    }
}

fn record_outcome(
    stats: &Mutex<Stats>,
    kind: OpKind,
    result: Result<Found, OpError>,
    latency: Duration,
    service: Duration,
) {
    let mut stats = stats.lock().expect("no load thread panicked");
    match result {
        Ok(found) => stats.record(kind, latency, service, found == Found::Yes),
        Err(OpError(message)) => stats.record_error(kind, message),
    }
}
