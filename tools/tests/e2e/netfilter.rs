//! Network faults between the nodes of a test cluster with iptables (RELIABILITY-NOTES: no
//! netem here, but netfilter works): cut a node's peer (QUIC) ports off in both directions,
//! or drop a share of all peer datagrams at random. Client ports are left alone, so clients
//! still reach a cut-off leader and must learn that it no longer leads.
//!
//! Every rule lives in a chain of the test's own, jumped to from INPUT and removed when the
//! guard drops, so tests running side by side never touch each other's rules. Needs root
//! and `iptables`; without them [`Netfilter::new`] returns `None` and the caller skips,
//! unless `SHOAL_REQUIRE_NETFILTER` is set (as `.ci/run` does), when it panics instead.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

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

    /// Removes every fault.
    pub fn heal(&self) {
        iptables(&["-F", &self.chain]).expect("flush the chain");
    }
}

impl Drop for Netfilter {
    fn drop(&mut self) {
        let _ = iptables(&["-F", &self.chain]);
        let _ = iptables(&["-D", "INPUT", "-j", &self.chain]);
        let _ = iptables(&["-X", &self.chain]);
    }
}
