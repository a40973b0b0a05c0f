//! The HTTP gateway end to end: `shoal up` with the gateway, the boto3 / AWS CLI suite of
//! `tools/tests/python/test_gateway.py` against it, a connection that stalls mid-headers,
//! and `shoal down` stopping the gateway.
//!
//! The Python suite needs a Python with boto3 and the AWS CLI: `.ci/run` installs both in a
//! virtualenv and names it in `SHOAL_PYTHON` / `SHOAL_AWS_CLI`. Without `SHOAL_PYTHON` the
//! suite falls back to `python3` if that imports boto3; in CI (`CI` set) a missing Python
//! fails the test instead of skipping it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{TestCluster, shoal_command, text, wait_for};

/// Longest run of the Python suite.
const SUITE_LIMIT: Duration = Duration::from_secs(600);

/// The gateway's URL and access key, from the cluster directory `shoal up` filled.
struct Gateway {
    url: String,
    port: u16,
    key_id: String,
    secret: String,
}

fn gateway_of(cluster: &TestCluster) -> Gateway {
    let dir = cluster.cluster_dir();
    let port: u16 = std::fs::read_to_string(dir.join("gateway/port"))
        .expect("shoal up wrote the gateway port")
        .trim()
        .parse()
        .expect("a port number");
    let credentials =
        std::fs::read_to_string(dir.join("credentials")).expect("shoal up wrote credentials");
    let value = |key: &str| {
        credentials
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| panic!("credentials file has no {key}"))
    };
    Gateway {
        url: format!("http://127.0.0.1:{port}"),
        port,
        key_id: value("aws_access_key_id"),
        secret: value("aws_secret_access_key"),
    }
}

/// A Python that imports boto3, or `None` outside CI when there is none.
fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SHOAL_PYTHON") {
        return Some(PathBuf::from(path));
    }
    let system = Command::new("python3")
        .args(["-c", "import boto3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if system {
        return Some(PathBuf::from("python3"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must set SHOAL_PYTHON to a Python with boto3 and awscli (.ci/run does)"
    );
    eprintln!(
        "NOTICE: the boto3 suite did not run: set SHOAL_PYTHON to a Python with boto3 and \
         awscli (python3 -m venv v && v/bin/pip install boto3 awscli)"
    );
    None
}

/// Runs the suite with a deadline; returns (success, output).
fn run_suite(python: &Path, gateway: &Gateway) -> (bool, String) {
    let suite_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let log = std::env::temp_dir().join(format!("shoal-gateway-suite-{}.log", std::process::id()));
    let out = std::fs::File::create(&log).expect("create the suite log");
    let err = out.try_clone().expect("clone the suite log");
    let aws_cli = std::env::var_os("SHOAL_AWS_CLI").unwrap_or_else(|| {
        python
            .parent()
            .map(|bin| bin.join("aws").into_os_string())
            .filter(|p| Path::new(p).is_file())
            .unwrap_or_else(|| "aws".into())
    });
    let mut child = Command::new(python)
        .args(["-m", "unittest", "-v", "test_gateway"])
        .current_dir(&suite_dir)
        .env("SHOAL_GATEWAY_URL", &gateway.url)
        .env("AWS_ACCESS_KEY_ID", &gateway.key_id)
        .env("AWS_SECRET_ACCESS_KEY", &gateway.secret)
        .env("SHOAL_AWS_CLI", aws_cli)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start the Python suite");
    let deadline = Instant::now() + SUITE_LIMIT;
    let success = loop {
        if let Some(status) = child.try_wait().expect("wait for the suite") {
            break status.success();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (success, output)
}

/// A client that sends half a request line and stops must lose its connection after the
/// header read timeout, while other clients keep being served.
fn stalled_headers_are_cut(gateway: &Gateway) {
    let mut stalled = TcpStream::connect(("127.0.0.1", gateway.port)).expect("connect");
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Ta")
        .expect("send part of the headers");
    stalled
        .set_read_timeout(Some(Duration::from_secs(40)))
        .expect("set a read timeout");
    let started = Instant::now();
    let mut health = TcpStream::connect(("127.0.0.1", gateway.port)).expect("connect");
    health
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("send a health check");
    let mut answer = String::new();
    health
        .read_to_string(&mut answer)
        .expect("read the health answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut rest = Vec::new();
    // EOF (Ok) or a reset (Err) both mean the gateway closed the connection; a timeout
    // means it did not.
    let result = stalled.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(35),
        "stalled connection still open after {waited:?}: {result:?}"
    );
}

#[test]
fn gateway_boto3_suite_aws_cli_and_shoal_down() {
    let cluster = TestCluster::start_with("gateway", 1, 2, true);
    let gateway = gateway_of(&cluster);
    let again = shoal_command()
        .args(["up", "--dir"])
        .arg(cluster.cluster_dir())
        .output()
        .expect("run shoal up again");
    let printed = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.status.success(), "{}", text(&again));
    for line in [
        format!("export AWS_ACCESS_KEY_ID={}", gateway.key_id),
        format!("export AWS_SECRET_ACCESS_KEY={}", gateway.secret),
        gateway.url.clone(),
    ] {
        assert!(
            printed.contains(&line),
            "`shoal up` did not print {line}:\n{printed}"
        );
    }

    if let Some(python) = python() {
        let (success, output) = run_suite(&python, &gateway);
        assert!(success, "the boto3 suite failed:\n{output}");
        eprintln!("{output}");
    }
    stalled_headers_are_cut(&gateway);

    let pid: i32 = std::fs::read_to_string(cluster.cluster_dir().join("gateway/pid"))
        .expect("gateway pid file")
        .trim()
        .parse()
        .expect("a pid");
    let down = shoal_command()
        .args(["down", "--dir"])
        .arg(cluster.cluster_dir())
        .output()
        .expect("run shoal down");
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout).contains(&format!("stopped gateway (pid {pid})")),
        "{}",
        text(&down)
    );
    let gone = wait_for(Duration::from_secs(10), || {
        !crate::harness::alive(pid as i32)
    });
    assert!(gone, "gateway (pid {pid}) survived shoal down");
}
