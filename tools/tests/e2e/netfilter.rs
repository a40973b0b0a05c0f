//! Network faults between the nodes of a test cluster with iptables (RELIABILITY-NOTES: no
//! netem here, but netfilter works): cut a node's peer (QUIC) ports off in both directions,
//! drop a share of all peer datagrams at random, or delay them: an NFQUEUE rule hands each
//! datagram to a thread of the test, which holds it for a base delay plus a jitter before
//! letting it through (so datagrams also arrive out of order). Client ports are left alone,
//! so clients still reach a cut-off leader and must learn that it no longer leads.
//!
//! Every rule lives in a chain of the test's own, jumped to from INPUT and removed when the
//! guard drops, so tests running side by side never touch each other's rules. A test process
//! that died without unwinding leaves its chain (and a cut or queued port would swallow the
//! datagrams of a later test that got that port): the first chain a test process creates
//! first removes the chains of dead ones. Needs root
//! and `iptables`; without them [`Netfilter::new`] returns `None` and the caller skips,
//! unless `SHOAL_REQUIRE_NETFILTER` is set (as `.ci/run` does), when it panics instead.

use std::collections::VecDeque;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A private iptables chain.
pub struct Netfilter {
    chain: String,
}

fn iptables(args: &[&str]) -> Result<(), String> {
    let output = Command::new("iptables")
        .args(["-w", "5"])
        .args(args)
        .output()
        .map_err(|e| format!("run iptables: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "iptables {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Netfilter {
    /// A new empty chain jumped to from INPUT; `None` (after saying why) if netfilter is not
    /// usable here and not required.
    pub fn new() -> Option<Netfilter> {
        static REAPED: std::sync::Once = std::sync::Once::new();
        REAPED.call_once(remove_abandoned_chains);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let chain = format!("shoal{}x{n}", std::process::id());
        let setup =
            iptables(&["-N", &chain]).and_then(|()| iptables(&["-I", "INPUT", "-j", &chain]));
        match setup {
            Ok(()) => Some(Netfilter { chain }),
            Err(e) if std::env::var_os("SHOAL_REQUIRE_NETFILTER").is_some() => {
                panic!("network fault tests need root and iptables: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: network fault test needs root and iptables ({e})");
                let _ = iptables(&["-X", &chain]);
                None
            }
        }
    }

    /// Drops every datagram to or from `ports` (a node's peer ports).
    pub fn cut(&self, ports: &[u16]) {
        for port in ports {
            let port = port.to_string();
            for dir in ["--dport", "--sport"] {
                iptables(&["-A", &self.chain, "-p", "udp", dir, &port, "-j", "DROP"])
                    .expect("add a cut rule");
            }
        }
    }

    /// Drops each datagram to `ports` with probability `share`.
    pub fn lose(&self, ports: &[u16], share: f64) {
        let share = format!("{share:.3}");
        for port in ports {
            let port = port.to_string();
            iptables(&[
                "-A",
                &self.chain,
                "-p",
                "udp",
                "--dport",
                &port,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &share,
                "-j",
                "DROP",
            ])
            .expect("add a loss rule");
        }
    }

    /// Holds each datagram to `ports` for `base` plus up to `jitter` (spread by packet id)
    /// until the returned [`Delay`] is dropped. Rules added after [`Netfilter::heal`] are
    /// gone with it; a datagram queued while no thread listens passes (`--queue-bypass`).
    pub fn delay(&self, ports: &[u16], base: Duration, jitter: Duration) -> Delay {
        let (queue, number) = bind_queue();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || hold(queue, number, base, jitter, &stop))
        };
        let number = number.to_string();
        for port in ports {
            let port = port.to_string();
            iptables(&[
                "-A",
                &self.chain,
                "-p",
                "udp",
                "--dport",
                &port,
                "-j",
                "NFQUEUE",
                "--queue-num",
                &number,
                "--queue-bypass",
            ])
            .expect("add a delay rule");
        }
        Delay {
            stop,
            thread: Some(thread),
        }
    }

    /// Removes every fault.
    pub fn heal(&self) {
        iptables(&["-F", &self.chain]).expect("flush the chain");
    }
}

/// Removes the chains (`shoal<PID>x<N>`) of test processes that are gone, with their jumps.
fn remove_abandoned_chains() {
    let Ok(output) = Command::new("iptables").args(["-w", "5", "-S"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(chain) = line.strip_prefix("-N ") else {
            continue;
        };
        let owner = chain
            .strip_prefix("shoal")
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, n)| Some((pid.parse::<i32>().ok()?, n.parse::<u32>().ok()?)));
        let Some((pid, _)) = owner else { continue };
        if pid == std::process::id() as i32 || crate::harness::alive(pid) {
            continue;
        }
        eprintln!("removing iptables chain {chain} of dead test process {pid}");
        let _ = iptables(&["-F", chain]);
        while iptables(&["-D", "INPUT", "-j", chain]).is_ok() {}
        let _ = iptables(&["-X", chain]);
    }
}

impl Drop for Netfilter {
    fn drop(&mut self) {
        let _ = iptables(&["-F", &self.chain]);
        let _ = iptables(&["-D", "INPUT", "-j", &self.chain]);
        let _ = iptables(&["-X", &self.chain]);
    }
}

/// A running delayer; dropping it lets every held datagram through and stops the thread.
pub struct Delay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<DelayStats>>,
}

/// What a delayer did.
#[derive(Debug, Default)]
pub struct DelayStats {
    /// Datagrams held and then accepted.
    pub delayed: u64,
    /// The most datagrams held at once.
    pub most_held: usize,
}

impl Delay {
    /// Stops the delayer (held datagrams go through at once) and says what it did.
    pub fn finish(mut self) -> DelayStats {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("a running delayer");
        thread.join().expect("the delay thread")
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds a netfilter queue with a number no other test (in this or another process) holds.
fn bind_queue() -> (nfq::Queue, u16) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut queue = nfq::Queue::open().expect("open a netfilter queue socket");
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let number = ((std::process::id().wrapping_mul(64) + n) % 65_000) as u16 + 100;
        if queue.bind(number).is_err() {
            continue;
        }
        // Only the metadata is needed to pass a verdict; a full queue lets datagrams through.
        queue.set_copy_range(number, 0).expect("set the copy range");
        queue
            .set_queue_max_len(number, 16_384)
            .expect("set the queue length");
        queue.set_fail_open(number, true).expect("set fail-open");
        queue.set_nonblocking(true);
        return (queue, number);
    }
    panic!("no free netfilter queue number");
}

/// The delayer's loop: takes datagrams as they are queued, lets each through once its time
/// has come; on stop lets everything through and unbinds.
fn hold(
    mut queue: nfq::Queue,
    number: u16,
    base: Duration,
    jitter: Duration,
    stop: &AtomicBool,
) -> DelayStats {
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    let mut stats = DelayStats::default();
    let jitter_us = jitter.as_micros().max(1) as u64;
    while !stop.load(Ordering::Relaxed) {
        loop {
            match queue.recv() {
                Ok(mut msg) => {
                    // Spread by packet id (a multiplicative hash), so neighbours differ.
                    let spread =
                        (u64::from(msg.get_packet_id())).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                    let due = Instant::now() + base + Duration::from_micros(spread % jitter_us);
                    msg.set_verdict(nfq::Verdict::Accept);
                    // Keep `held` sorted by due time (jitter makes arrivals out of order).
                    let at = held.partition_point(|(t, _)| *t <= due);
                    held.insert(at, (due, msg));
                    stats.most_held = stats.most_held.max(held.len());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("netfilter queue {number}: {e}"),
            }
        }
        let now = Instant::now();
        while held.front().is_some_and(|(t, _)| *t <= now) {
            let (_, msg) = held.pop_front().expect("a held datagram");
            queue.verdict(msg).expect("pass a verdict");
            stats.delayed += 1;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    for (_, msg) in held {
        let _ = queue.verdict(msg);
        stats.delayed += 1;
    }
    let _ = queue.unbind(number);
    stats
}
