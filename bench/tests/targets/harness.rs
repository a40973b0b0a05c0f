//! Test fixtures: the built binaries, temporary directories, a redis-server on a free
//! loopback port, a one-node Shoal cluster from `shoal up`, running `shoal-bench` and reading
//! its JSON report. Every process started here is killed by PID, and every directory removed,
//! when its guard drops, pass or fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest wait for a server to answer after it starts.
const START_WAIT: Duration = Duration::from_secs(20);
/// Longest `shoal up` wait, seconds.
const UP_WAIT_S: u64 = 60;

/// The `shoal-bench` binary under test.
pub fn bench_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal-bench"))
}

/// A binary built in the same target directory (`shoal`, `shoal-node`).
pub fn sibling_binary(name: &str) -> PathBuf {
    let path = bench_binary().with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p shoal-tools -p shoal-node` first \
         (cargo test --workspace builds it)",
        path.display()
    );
    path
}

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `label`.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("shoal-bench-{label}-{}-{n}", std::process::id()));
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

/// Polls `done` every 20 ms until it holds or `limit` passes.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Sends one RESP command on `stream` and returns the raw reply line(s) read.
pub fn resp(stream: &mut TcpStream, args: &[&str]) -> String {
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(out.as_bytes()).expect("send to redis");
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).expect("read from redis");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether a server on `port` answers PING with PONG (any I/O error: no).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut reply = [0u8; 64];
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .is_ok()
        && stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && matches!(stream.read(&mut reply), Ok(n) if reply[..n].starts_with(b"+PONG"))
}

/// A redis-server on a free loopback port, no persistence; killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

impl RedisServer {
    /// Starts redis-server (with DEBUG allowed from loopback, for the stall test).
    pub fn start(label: &str) -> RedisServer {
        let dir = TempDir::new(label);
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--enable-debug-command", "local"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): install it (apt-get install redis-server)")
            });
        let server = RedisServer {
            port,
            child,
            _dir: dir,
        };
        // A refused or reset connection while the server starts is "not yet" (`resp`
        // panics on I/O errors: seen once in CI as a reset on the first PING).
        let up = wait_for(START_WAIT, || answers_ping(port));
        assert!(up, "redis-server on port {port} did not answer PING");
        server
    }

    /// The target URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-member etcd on free loopback ports; killed on drop.
pub struct EtcdServer {
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

/// POSTs `body` to `path` on 127.0.0.1:`port` (Connection: close) and returns the response.
fn http_post(port: u16, path: &str, body: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

impl EtcdServer {
    /// Starts etcd and waits until it accepts a write (it has elected itself leader).
    pub fn start(label: &str) -> EtcdServer {
        let dir = TempDir::new(label);
        let (port, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "m0", "--data-dir"])
            .arg(dir.0.join("data"))
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("m0={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start etcd ({e}): install it (apt-get install etcd-server)")
            });
        let server = EtcdServer {
            port,
            child,
            _dir: dir,
        };
        let up = wait_for(START_WAIT, || {
            http_post(port, "/v3/kv/put", r#"{"key":"cmVhZHk=","value":"eQ=="}"#)
                .is_some_and(|r| r.starts_with("HTTP/1.1 200") && r.contains("header"))
        });
        assert!(up, "etcd on port {port} did not accept a write");
        server
    }

    /// The target URL.
    pub fn url(&self) -> String {
        format!("etcd://127.0.0.1:{}", self.port)
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-node, one-shard Shoal cluster from `shoal up`; its processes are killed by PID
/// (every `*/pid` file under its directory) on drop.
pub struct ShoalCluster {
    dir: TempDir,
}

impl ShoalCluster {
    /// Starts the cluster and waits until it serves.
    pub fn start(label: &str) -> ShoalCluster {
        let cluster = ShoalCluster {
            dir: TempDir::new(label),
        };
        let output = Command::new(sibling_binary("shoal"))
            .env("SHOAL_NODE_BIN", sibling_binary("shoal-node"))
            .env_remove("SHOAL_CLUSTER")
            .args(["up", "--nodes", "1", "--shards-per-node", "1"])
            .args(["--cache-bytes", &(16u64 << 20).to_string()])
            .args(["--wait-s", &UP_WAIT_S.to_string(), "--dir"])
            .arg(cluster.dir())
            .output()
            .expect("run shoal up");
        assert!(
            output.status.success(),
            "shoal up failed:\n{}",
            text(&output)
        );
        cluster
    }

    fn dir(&self) -> PathBuf {
        self.dir.0.join("cluster")
    }

    /// The target URL.
    pub fn url(&self) -> String {
        format!("shoal://{}", self.dir().join("cluster.toml").display())
    }

    /// The first client port of node 1 (its only shard).
    pub fn client_port(&self) -> u16 {
        let file = std::fs::read_to_string(self.dir().join("cluster.toml")).expect("cluster file");
        file.lines()
            .find_map(|l| l.trim().strip_prefix("client_port_base = "))
            .and_then(|p| p.trim().parse().ok())
            .expect("cluster file names client_port_base")
    }

    /// The gateway's `dynamodb+http://` URL and the AWS variables that sign for it (from the
    /// credentials file `shoal up` writes).
    pub fn gateway(&self) -> (String, Vec<(String, String)>) {
        let port = std::fs::read_to_string(self.dir().join("gateway/port"))
            .expect("shoal up started a gateway");
        let credentials = std::fs::read_to_string(self.dir().join("credentials"))
            .expect("shoal up wrote credentials");
        let field = |name: &str| {
            credentials
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_else(|| panic!("credentials lack {name}"))
        };
        let env = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), field("aws_access_key_id")),
            (
                "AWS_SECRET_ACCESS_KEY".to_string(),
                field("aws_secret_access_key"),
            ),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ];
        (format!("dynamodb+http://127.0.0.1:{}", port.trim()), env)
    }
}

impl Drop for ShoalCluster {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let pid_file = entry.path().join("pid");
            if let Ok(pid) = std::fs::read_to_string(&pid_file) {
                let pid = pid.trim();
                if pid.parse::<u32>().is_ok() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
        }
    }
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

/// Runs `shoal-bench` with `args`.
pub fn bench(args: &[&str]) -> Output {
    bench_env(args, &[])
}

/// Runs `shoal-bench` with `args` and extra environment variables (and no inherited AWS ones).
pub fn bench_env(args: &[&str], env: &[(String, String)]) -> Output {
    let mut command = Command::new(bench_binary());
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.args(args).output().expect("run shoal-bench")
}

/// Runs `shoal-bench run` with `args` plus `--json` into `dir`, asserts success, and returns
/// the report and the stdout table.
pub fn run_json(dir: &Path, name: &str, args: &[&str]) -> (Value, String) {
    run_json_env(dir, name, args, &[])
}

/// `run_json` with extra environment variables.
pub fn run_json_env(
    dir: &Path,
    name: &str,
    args: &[&str],
    env: &[(String, String)],
) -> (Value, String) {
    let json = dir.join(format!("{name}.json"));
    let mut all = vec![
        "run",
        "--quiet",
        "--json",
        json.to_str().expect("UTF-8 path"),
    ];
    all.extend_from_slice(args);
    let output = bench_env(&all, env);
    assert!(
        output.status.success(),
        "shoal-bench {all:?} failed:\n{}",
        text(&output)
    );
    let report = std::fs::read_to_string(&json).expect("the JSON report was written");
    let report: Value = serde_json::from_str(&report).expect("the JSON report parses");
    (report, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A number field, by JSON pointer.
pub fn num(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("report lacks number {pointer}: {report:#}"))
}

/// Checks a report is self-consistent: fields present, counts add up to `operations`,
/// percentiles non-decreasing, the expected operation kinds and no others, no errors.
pub fn check_report(report: &Value, operations: u64, kinds: &[&str]) {
    for pointer in [
        "/schema",
        "/git_revision",
        "/unix_time_s",
        "/target/name",
        "/target/url",
        "/config/workload",
        "/config/distribution",
        "/config/records",
        "/config/concurrency",
        "/config/seed",
        "/config/value_size_bytes",
        "/config/loop_mode",
        "/elapsed_s",
        "/timed_out",
        "/total/count",
        "/total/latency_us/p99",
        "/total/service_us/p99",
    ] {
        assert!(
            report.pointer(pointer).is_some(),
            "report lacks {pointer}: {report:#}"
        );
    }
    assert_eq!(report["timed_out"], Value::Bool(false));
    let ops = report["ops"].as_object().expect("ops is an object");
    let mut names: Vec<&str> = ops.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = kinds.to_vec();
    expected.sort_unstable();
    assert_eq!(
        names, expected,
        "operation kinds of {}",
        report["config"]["workload"]
    );
    let sum = |field: &str| -> f64 { ops.values().map(|op| num(op, field)).sum() };
    assert_eq!(
        sum("/count"),
        num(report, "/total/count"),
        "op counts add up to the total"
    );
    assert_eq!(
        sum("/errors"),
        num(report, "/total/errors"),
        "errors add up to the total"
    );
    assert_eq!(num(report, "/total/errors"), 0.0, "no errors: {report:#}");
    let done = num(report, "/total/count") + num(report, "/total/errors");
    assert_eq!(
        done, operations as f64,
        "every claimed operation is counted once"
    );
    let throughput = sum("/throughput_per_s");
    let total = num(report, "/total/throughput_per_s");
    assert!(
        (throughput - total).abs() <= total * 1e-9 + 1e-9,
        "{throughput} vs {total}"
    );
    for (name, op) in ops
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain([("total", &report["total"])])
    {
        for histogram in ["latency_us", "service_us"] {
            let p: Vec<f64> = ["min", "p50", "p90", "p99", "p999", "max"]
                .iter()
                .map(|q| num(op, &format!("/{histogram}/{q}")))
                .collect();
            assert!(
                p.windows(2).all(|w| w[0] <= w[1]),
                "{name} {histogram} not monotone: {p:?}"
            );
            assert!(p[1] > 0.0, "{name} {histogram} p50 is zero");
        }
        let curve = op["latency_curve_us"]
            .as_array()
            .expect("a percentile curve");
        let ys: Vec<f64> = curve
            .iter()
            .map(|p| p[1].as_f64().expect("number"))
            .collect();
        assert!(
            ys.windows(2).all(|w| w[0] <= w[1]),
            "{name} curve not monotone: {ys:?}"
        );
    }
}
