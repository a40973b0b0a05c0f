//! Test clusters: a temporary directory, `shoal up` with the built `shoal-node`, a client
//! connected to it, the CLI bound to its cluster file, SIGKILL and restart of a node, and a
//! guard that kills the nodes (and the gateway, if started) and removes the directory when the
//! test ends, pass or fail.
//!
//! A test process that dies without unwinding (SIGKILL, a timeout's kill, a stack overflow's
//! abort) runs no guard, and the nodes `shoal up` started in the background outlive it. So
//! the first directory a test process creates first sweeps those of dead test processes:
//! see [`reap_abandoned`].

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use shoal_router::{Client, ClientConfig, ClusterFile};

/// Page cache per shard of test nodes (small: several clusters may run at once).
const CACHE_BYTES: usize = 16 << 20;
/// Longest `shoal up` wait.
const UP_WAIT_S: u64 = 60;

/// The `shoal` binary under test.
pub fn shoal_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal"))
}

/// The `shoal-node` binary built in the same target directory.
pub fn node_binary() -> PathBuf {
    let path = shoal_binary().with_file_name("shoal-node");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p shoal-node` first (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        static REAPED: std::sync::Once = std::sync::Once::new();
        REAPED.call_once(|| {
            let reaped = reap_abandoned(&std::env::temp_dir());
            if reaped > 0 {
                eprintln!("removed {reaped} test directories left by dead test processes");
            }
        });
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("shoal-e2e-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PID of the test process that created `name` (`shoal-e2e-LABEL-PID-N`), if it is one
/// of ours.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("shoal-e2e-")?;
    let mut parts = rest.rsplitn(3, '-');
    let _n: u32 = parts.next()?.parse().ok()?;
    let pid: i32 = parts.next()?.parse().ok()?;
    parts.next()?;
    Some(pid)
}

/// Whether process `pid` exists (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
}

/// Removes the test directories under `tmp` whose test process is gone, after SIGKILLing
/// every process a PID file under their `cluster/` names (a node, the gateway) whose command
/// line mentions the directory (so a recycled PID is left alone). Returns how many
/// directories it removed. Test processes are told apart by PID: one in another PID
/// namespace sharing this `/tmp` would look dead.
pub fn reap_abandoned(tmp: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut reaped = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if owner == std::process::id() as i32 || alive(owner) {
            continue;
        }
        let dir = entry.path();
        // A node's command line names its config file inside the directory.
        let inside = format!("{}/", dir.to_string_lossy());
        let mut all_gone = true;
        let servers = std::fs::read_dir(dir.join("cluster")).into_iter().flatten();
        for server in servers.flatten() {
            let pid = std::fs::read_to_string(server.path().join("pid"));
            let Ok(pid) = pid.unwrap_or_default().trim().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&inside) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                all_gone &= wait_for(Duration::from_secs(5), || !alive(pid));
            }
        }
        // A server that survived keeps its PID file, so a later sweep tries again.
        if all_gone && std::fs::remove_dir_all(&dir).is_ok() {
            reaped += 1;
        }
    }
    reaped
}

/// A running local cluster; dropping it kills its nodes and removes its directory.
pub struct TestCluster {
    /// The cluster directory (`shoal up --dir`).
    pub dir: TempDir,
    /// The cluster's nodes.
    pub file: ClusterFile,
}

impl TestCluster {
    /// Starts `nodes` nodes of `shards` shards each with `shoal up`, without the gateway.
    pub fn start(label: &str, nodes: u32, shards: u16) -> TestCluster {
        TestCluster::start_with(label, nodes, shards, false)
    }

    /// Starts `nodes` nodes of `shards` shards each with `shoal up`, and the HTTP gateway
    /// if `gateway`.
    pub fn start_with(label: &str, nodes: u32, shards: u16, gateway: bool) -> TestCluster {
        let dir = TempDir::new(label);
        let cluster_dir = dir.0.join("cluster");
        let output = shoal_command()
            .args([
                "up",
                "--nodes",
                &nodes.to_string(),
                "--shards-per-node",
                &shards.to_string(),
            ])
            .args([
                "--cache-bytes",
                &CACHE_BYTES.to_string(),
                "--wait-s",
                &UP_WAIT_S.to_string(),
            ])
            .args((!gateway).then_some("--no-gateway"))
            .arg("--dir")
            .arg(&cluster_dir)
            .output()
            .expect("run shoal up");
        let file = ClusterFile::load(&cluster_dir.join("cluster.toml")).ok();
        let cluster = TestCluster {
            dir,
            file: file.unwrap_or_else(|| ClusterFile {
                name: String::new(),
                nodes: Vec::new(),
            }),
        };
        assert!(
            output.status.success(),
            "shoal up failed:\n{}",
            text(&output)
        );
        cluster
    }

    /// The cluster directory.
    pub fn cluster_dir(&self) -> PathBuf {
        self.dir.0.join("cluster")
    }

    /// The cluster file.
    pub fn cluster_file(&self) -> PathBuf {
        self.cluster_dir().join("cluster.toml")
    }

    /// A client with test timeouts.
    pub async fn client(&self) -> Client {
        let config = ClientConfig {
            operation_timeout: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        };
        Client::connect_with(self.file.clone(), config)
            .await
            .expect("connect to the test cluster")
    }

    /// Runs the CLI against this cluster.
    pub fn shoal(&self, args: &[&str]) -> Output {
        shoal_command()
            .arg("--cluster")
            .arg(self.cluster_file())
            .args(args)
            .output()
            .expect("run shoal")
    }

    /// The PID of a node, from its PID file.
    pub fn pid(&self, node: u32) -> Option<u32> {
        let path = self.cluster_dir().join(format!("node-{node}/pid"));
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// SIGKILLs a node and waits (bounded) until it is gone.
    pub fn kill9(&self, node: u32) {
        let pid = self.pid(node).expect("node has a pid");
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        let gone = wait_for(Duration::from_secs(10), || !alive(pid as i32));
        assert!(gone, "node {node} (pid {pid}) survived SIGKILL");
    }

    /// Restarts stopped nodes with `shoal up` on the same directory.
    pub fn restart(&self) {
        let output = shoal_command()
            .args([
                "up",
                "--no-gateway",
                "--wait-s",
                &UP_WAIT_S.to_string(),
                "--dir",
            ])
            .arg(self.cluster_dir())
            .output()
            .expect("run shoal up");
        assert!(
            output.status.success(),
            "shoal up (restart) failed:\n{}",
            text(&output)
        );
    }
}

impl TestCluster {
    /// With `SHOAL_E2E_KEEP_LOGS=DIR`, copies every node's whole log into a new directory
    /// under DIR (the tails printed on failure rarely hold the start of a fault).
    fn keep_logs(&self) {
        let Some(keep) = std::env::var_os("SHOAL_E2E_KEEP_LOGS") else {
            return;
        };
        let Some(name) = self.dir.0.file_name() else {
            return;
        };
        let to = PathBuf::from(keep).join(name);
        if std::fs::create_dir_all(&to).is_err() {
            return;
        }
        for node in &self.file.nodes {
            let log = self.cluster_dir().join(format!("node-{}/log", node.id));
            let _ = std::fs::copy(&log, to.join(format!("node-{}.log", node.id)));
        }
        eprintln!("--- node logs kept in {} ---", to.display());
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let gateway_pid = std::fs::read_to_string(self.cluster_dir().join("gateway/pid"));
        if let Ok(pid) = gateway_pid.unwrap_or_default().trim().parse::<i32>() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        for node in &self.file.nodes {
            if let Some(pid) = self.pid(node.id) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        if std::thread::panicking() {
            self.keep_logs();
            for node in &self.file.nodes {
                let log = self.cluster_dir().join(format!("node-{}/log", node.id));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                // A panic's message sits above its backtrace, out of the tail's reach.
                if let Some(at) = lines.iter().position(|l| l.contains("panicked at")) {
                    eprintln!("--- panic in {} ---", log.display());
                    for line in lines.iter().skip(at.saturating_sub(3)).take(16) {
                        eprintln!("{line}");
                    }
                }
                // Who led the metadata group when (raft's election steps are logged at
                // debug, which the test clusters turn on: see `shoal_command`).
                let meta: Vec<&&str> = lines
                    .iter()
                    .filter(|l| l.contains("group=0 ") && l.contains("became"))
                    .collect();
                if !meta.is_empty() {
                    eprintln!("--- metadata group roles in {} ---", log.display());
                    for line in meta.iter().rev().take(20).rev() {
                        eprintln!("{line}");
                    }
                }
                eprintln!("--- end of {} ---", log.display());
                for line in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("{line}");
                }
            }
        }
    }
}

#[test]
fn directories_of_dead_test_processes_are_reaped_with_their_servers() {
    let tmp = TempDir::new("reap");
    // No process has PID pid_max (PIDs stay below it): it names the abandoned directory.
    let gone_pid: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("read pid_max")
        .trim()
        .parse()
        .expect("pid_max is a number");
    let abandoned = tmp.0.join(format!("shoal-e2e-replication-{gone_pid}-0"));
    let server_dir = abandoned.join("cluster/node-1");
    std::fs::create_dir_all(&server_dir).expect("create the abandoned node directory");
    // A stand-in for a node left running: its command line names its directory, as a
    // node's `--config DIR/cluster/node-1/node.toml` does.
    let config = server_dir.join("node.toml");
    let mut server = Command::new("bash")
        .arg("-c")
        .arg("exec -a \"$0\" sleep 600")
        .arg(&config)
        .spawn()
        .expect("spawn the stand-in server");
    std::fs::write(server_dir.join("pid"), server.id().to_string()).expect("write its pid");
    // A directory of a live test process (this one's parent stands in) and a stranger.
    let live = tmp.0.join(format!(
        "shoal-e2e-crash-{}-3",
        std::os::unix::process::parent_id()
    ));
    let stranger = tmp.0.join("shoal-data");
    std::fs::create_dir_all(&live).expect("create the live directory");
    std::fs::create_dir_all(&stranger).expect("create the other directory");
    let started = std::time::Instant::now();
    while !std::fs::read(format!("/proc/{}/cmdline", server.id()))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("node.toml"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stand-in never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    assert_eq!(reap_abandoned(&tmp.0), 1);
    let status = server.wait().expect("wait for the stand-in");
    assert!(
        !status.success(),
        "the stand-in server was not killed: {status}"
    );
    assert!(
        !abandoned.exists(),
        "the abandoned directory is still there"
    );
    assert!(
        live.exists() && stranger.exists(),
        "removed a directory not abandoned"
    );
}

/// `shoal` with `SHOAL_NODE_BIN` pointing at the built node.
pub fn shoal_command() -> Command {
    let mut command = Command::new(shoal_binary());
    // Nodes log raft's election steps too, so a failed test's log tails tell who led.
    let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,raft=debug".into());
    command
        .env("SHOAL_NODE_BIN", node_binary())
        .env("RUST_LOG", log_filter)
        .env_remove("SHOAL_CLUSTER");
    command
}

/// Stdout and stderr of a finished command, for failure messages.
pub fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls `done` every 20 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// Creates a table with a string partition key `pk` and, if given, a number sort key `sk`.
///
/// An attempt that times out after it was sent (the client does not retry those: a
/// CreateTable is not idempotent) has an unknown outcome, as happens while a just
/// restarted cluster elects its metadata leader on a loaded machine: then the table is
/// looked up, and the create sent again only if it does not exist (bounded).
pub async fn create_table(client: &Client, name: &str, sort: bool) {
    use shoal_wire::schema::{BillingMode, ScalarType};
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut create = client
            .create_table(name)
            .partition_key("pk", ScalarType::S)
            .billing_mode(BillingMode::PayPerRequest);
        if sort {
            create = create.sort_key("sk", ScalarType::N);
        }
        match create.send().await {
            Ok(_) => return,
            Err(e @ shoal_router::Error::Timeout { .. }) => {
                assert!(std::time::Instant::now() < deadline, "create table: {e:?}");
                if client.describe_table(name).send().await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("create table: {e:?}"),
        }
    }
}
