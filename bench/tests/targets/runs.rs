//! Every workload against Redis and against Shoal; `compare`; `plot`; bad flags.

use crate::harness::{
    EtcdServer, RedisServer, ShoalCluster, TempDir, bench, bench_env, check_report, num, run_json,
    run_json_env, text,
};

/// Measured operations per workload run: enough for every kind of a mix to appear (the
/// rarest is 5%), few enough to stay well under a second on a debug build.
const OPERATIONS: u64 = 400;
const RECORDS: u64 = 200;

/// Each workload and the operation kinds its report must hold.
const WORKLOADS: [(&str, &[&str]); 9] = [
    ("a", &["read", "update"]),
    ("b", &["read", "update"]),
    ("c", &["read"]),
    ("d", &["read", "insert"]),
    ("e", &["scan", "insert"]),
    ("f", &["read", "rmw"]),
    ("put", &["update"]),
    ("get", &["read"]),
    ("query", &["query"]),
];

fn every_workload(url: &str, dir: &TempDir, extra: &[&str], env: &[(String, String)]) {
    for (workload, kinds) in WORKLOADS {
        let table = format!("bench-{workload}");
        let (records, operations) = (RECORDS.to_string(), OPERATIONS.to_string());
        let mut args = vec!["--target", url, "--workload", workload, "--table", &table];
        args.extend(["--records", &records, "--operations", &operations]);
        args.extend(["--concurrency", "4", "--seed", "7"]);
        args.extend_from_slice(extra);
        let (report, table_text) = run_json_env(&dir.0, workload, &args, env);
        check_report(&report, OPERATIONS, kinds);
        assert_eq!(num(&report, "/load/records"), RECORDS as f64);
        assert_eq!(
            num(&report, "/load/inserts/count"),
            RECORDS as f64,
            "every record loaded"
        );
        assert_eq!(report["config"]["workload"], workload);
        let total_line = table_text
            .lines()
            .find(|l| l.starts_with("total"))
            .expect("a total row");
        let count: u64 = total_line
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            count as f64,
            num(&report, "/total/count"),
            "table and JSON agree"
        );
        if matches!(workload, "c" | "get") {
            // Every read targets a loaded record.
            assert_eq!(
                num(&report, "/ops/read/not_found"),
                0.0,
                "{workload}: reads missed"
            );
        }
    }
}

#[test]
fn redis_every_workload_reports_consistent_counts_and_percentiles() {
    let redis = RedisServer::start("redis-workloads");
    let dir = TempDir::new("redis-workloads-reports");
    every_workload(&redis.url(), &dir, &[], &[]);
}

#[test]
fn etcd_every_workload_reports_consistent_counts_and_percentiles() {
    let etcd = EtcdServer::start("etcd-workloads");
    let dir = TempDir::new("etcd-workloads-reports");
    every_workload(&etcd.url(), &dir, &[], &[]);
}

#[test]
fn shoal_every_workload_on_one_node_reports_consistent_counts_and_percentiles() {
    let cluster = ShoalCluster::start("shoal-workloads");
    let dir = TempDir::new("shoal-workloads-reports");
    every_workload(&cluster.url(), &dir, &["--consistent"], &[]);
    // The same node named by its client port instead of the cluster file.
    let url = format!("shoal://127.0.0.1:{}", cluster.client_port());
    let args = [
        "--target",
        &url,
        "--workload",
        "get",
        "--table",
        "bench-get",
        "--records",
        "200",
    ];
    let (report, _) = run_json(
        &dir.0,
        "by-port",
        &[&args[..], &["--skip-load", "--operations", "100"]].concat(),
    );
    check_report(&report, 100, &["read"]);
    assert_eq!(
        num(&report, "/ops/read/not_found"),
        0.0,
        "the loaded records are found"
    );
}

#[test]
fn dynamodb_http_every_workload_through_the_shoal_gateway_reports_consistent_counts() {
    let cluster = ShoalCluster::start("gateway-workloads");
    let dir = TempDir::new("gateway-workloads-reports");
    let (url, env) = cluster.gateway();
    every_workload(&url, &dir, &["--consistent"], &env);
    // Without credentials the target is refused before anything runs.
    let output = bench_env(&["run", "--target", &url, "--operations", "1"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("AWS_ACCESS_KEY_ID"));
}

#[test]
fn warmup_and_duration_bound_a_run_and_threads_split_the_load() {
    let redis = RedisServer::start("redis-duration");
    let dir = TempDir::new("redis-duration-reports");
    let url = redis.url();
    let args = [
        "--target",
        &url,
        "--workload",
        "b",
        "--records",
        "100",
        "--warmup",
        "0.3",
    ];
    let more = ["--duration", "0.7", "--concurrency", "4", "--threads", "2"];
    let (report, _) = run_json(&dir.0, "b", &[&args[..], &more[..]].concat());
    let elapsed = num(&report, "/elapsed_s");
    assert!(
        (0.6..5.0).contains(&elapsed),
        "measured {elapsed} s of a 0.7 s run"
    );
    assert!(num(&report, "/total/count") > 0.0);
    assert_eq!(num(&report, "/total/errors"), 0.0);
}

#[test]
fn compare_alternates_targets_and_ends_with_the_ratio_lines() {
    let first = RedisServer::start("redis-compare-a");
    let second = RedisServer::start("redis-compare-b");
    let dir = TempDir::new("compare");
    let targets = format!("one={},two={}", first.url(), second.url());
    let json = dir.0.join("compare.json");
    let svg = dir.0.join("compare.svg");
    let output = bench(&[
        "compare",
        "--quiet",
        "--targets",
        &targets,
        "--rounds",
        "3",
        "--workload",
        "a",
        "--records",
        "100",
        "--operations",
        "200",
        "--concurrency",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "compare failed:\n{}",
        text(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let order: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("round ") && !l.contains(" ratio "))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        order,
        ["one:", "two:", "one:", "two:", "one:", "two:"],
        "{stdout}"
    );
    let per_round = stdout
        .lines()
        .filter(|l| l.contains(" ratio one/two: "))
        .count();
    assert_eq!(per_round, 3, "{stdout}");
    let last = stdout.lines().last().expect("output");
    let pattern = last
        .strip_prefix("ratio throughput one/two = ")
        .and_then(|rest| rest.split_once(", p99 one/two = "))
        .unwrap_or_else(|| panic!("last line {last:?}"));
    for number in [pattern.0, pattern.1] {
        let (whole, fraction) = number.split_once('.').expect("X.XX");
        assert!(
            whole.parse::<u64>().is_ok() && fraction.len() == 2,
            "{last:?}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["rounds"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["ratios"][0]["throughput_per_round"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.matches("<polyline").count() == 2,
        "{plot}"
    );
}

#[test]
fn plot_draws_one_line_per_report() {
    let redis = RedisServer::start("redis-plot");
    let dir = TempDir::new("plot");
    let url = redis.url();
    let base = ["--target", &url, "--records", "50", "--operations", "100"];
    run_json(&dir.0, "get", &[&base[..], &["--workload", "get"]].concat());
    run_json(
        &dir.0,
        "put",
        &[&base[..], &["--workload", "put", "--skip-load"]].concat(),
    );
    let svg = dir.0.join("both.svg");
    let (a, b) = (dir.0.join("get.json"), dir.0.join("put.json"));
    let output = bench(&[
        "plot",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(plot.matches("<polyline").count(), 2, "{plot}");
    assert!(plot.contains("99.9%") && plot.trim_end().ends_with("</svg>"));
}

#[test]
fn bad_flags_and_targets_are_rejected_by_name() {
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "run",
                "--target",
                "redis://127.0.0.1:1",
                "--concurrency",
                "0",
            ],
            "--concurrency",
        ),
        (
            &["run", "--target", "redis://127.0.0.1:1", "--rate=-5"],
            "--rate",
        ),
        (
            &["run", "--target", "redis://127.0.0.1:1", "--duration", "0"],
            "--duration",
        ),
        (
            &["run", "--target", "redis://127.0.0.1:1", "--records", "0"],
            "--records",
        ),
        (
            &["run", "--target", "redis://127.0.0.1:1", "--workload", "z"],
            "--workload",
        ),
        (
            &[
                "run",
                "--target",
                "redis://127.0.0.1:1",
                "--operations",
                "5",
                "--duration",
                "1",
            ],
            "--operations",
        ),
        (&["run", "--target", "localhost:6379"], "no scheme"),
        (&["run", "--target", "redis://127.0.0.1:99999"], "99999"),
        (
            &["compare", "--targets", "redis://127.0.0.1:1"],
            "at least two",
        ),
    ];
    for (args, expected) in cases {
        let output = bench(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}:\n{}",
            text(&output)
        );
        assert!(
            stderr.contains(expected),
            "{args:?} should mention {expected}:\n{stderr}"
        );
    }
    let output = bench(&[
        "run",
        "--target",
        "redis://127.0.0.1:1",
        "--operations",
        "5",
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "unreachable target:\n{}",
        text(&output)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("connect to redis"));
}
