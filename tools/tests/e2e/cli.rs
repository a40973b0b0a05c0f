//! Every CLI command against a real node: tables, items as plain and typed JSON, the
//! expression flags, paging flags, parallel scan segments, status, and the error contract
//! (`<DynamoDB name>: <message>` on stderr, exit 1; usage errors exit 2).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{TestCluster, text};

/// Runs the CLI, asserts success and parses stdout as one JSON document.
fn ok(cluster: &TestCluster, args: &[&str]) -> Value {
    let output = cluster.shoal(args);
    assert!(
        output.status.success(),
        "shoal {args:?}:\n{}",
        text(&output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("shoal {args:?}: {e}\n{}", text(&output)))
}

/// Runs the CLI, asserts it fails with `code` and returns stderr.
fn fails(cluster: &TestCluster, args: &[&str], code: i32) -> String {
    let output = cluster.shoal(args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "shoal {args:?}:\n{}",
        text(&output)
    );
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout after a failure"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn cli_runs_every_command() {
    let cluster = TestCluster::start("cli", 1, 2);
    let created = ok(
        &cluster,
        &["table", "create", "users", "--pk", "id:S", "--sk", "ts:N"],
    );
    assert_eq!(created["TableDescription"]["TableName"], "users");
    assert_eq!(
        ok(&cluster, &["table", "list"])["TableNames"],
        json(r#"["users"]"#)
    );
    let described = ok(&cluster, &["table", "describe", "users"]);
    assert_eq!(described["Table"]["KeySchema"][1]["AttributeName"], "ts");
    items(&cluster);
    reads(&cluster);
    errors(&cluster);
    let status = cluster.shoal(&["status"]);
    let report = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        report.contains("shard 1") && report.contains("up") && report.contains("table users"),
        "{report}"
    );
    // Every partition's leader comes from the shards' raft groups.
    assert!(
        report.contains("leader 1/") && !report.contains("leader none known"),
        "{report}"
    );
    closed_stdout(&cluster);
    ok(&cluster, &["table", "delete", "users"]);
    assert_eq!(ok(&cluster, &["table", "list"])["TableNames"], json("[]"));
    down(&cluster);
}

/// Output into a pipe nobody reads (`shoal status | head -1` once head is done) ends the
/// command quietly, by SIGPIPE as other tools, not by a panic.
fn closed_stdout(cluster: &TestCluster) {
    use std::os::unix::process::ExitStatusExt;
    for args in [&["status"][..], &["scan", "users"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = crate::harness::shoal_command()
            .arg("--cluster")
            .arg(cluster.cluster_file())
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run shoal");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "shoal {args:?}: {stderr}");
        assert_eq!(
            output.status.signal(),
            Some(nix::sys::signal::Signal::SIGPIPE as i32),
            "shoal {args:?}: {stderr}"
        );
    }
}

/// `shoal down` stops the node; `shoal status` then reports it down and fails.
fn down(cluster: &TestCluster) {
    let dir = cluster.cluster_dir();
    let output = crate::harness::shoal_command()
        .arg("down")
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("stopped node 1"),
        "{}",
        text(&output)
    );
    assert!(!dir.join("node-1/pid").exists(), "the PID file is removed");
    let status = cluster.shoal(&["status"]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("2 of 2 shards are down"),
        "{}",
        text(&status)
    );
}

fn items(cluster: &TestCluster) {
    let item = r#"{"id":"a","ts":1,"big":12345678901234567890123456789012345678,"small":-0.000001,"doc":{"l":[1,true,null,"s"]}}"#;
    assert_eq!(ok(cluster, &["put", "users", item]), json("{}"));
    let got = ok(
        cluster,
        &["get", "users", r#"{"id":"a","ts":1}"#, "--consistent"],
    );
    assert_eq!(got["Item"], json(item), "numbers come back exactly");
    let typed = ok(
        cluster,
        &[
            "--typed",
            "get",
            "users",
            r#"{"id":{"S":"a"},"ts":{"N":"1"}}"#,
        ],
    );
    assert_eq!(
        typed["Item"]["big"],
        json(r#"{"N":"12345678901234567890123456789012345678"}"#)
    );
    assert_eq!(
        typed["Item"]["doc"]["M"]["l"]["L"][1],
        json(r#"{"BOOL":true}"#)
    );
    let stderr = fails(
        cluster,
        &[
            "put",
            "users",
            item,
            "--condition",
            "attribute_not_exists(id)",
        ],
        1,
    );
    assert!(
        stderr.starts_with("ConditionalCheckFailedException: The conditional request failed"),
        "{stderr}"
    );
    let updated = ok(
        cluster,
        &[
            "update",
            "users",
            r#"{"id":"a","ts":1}"#,
            "--update",
            "SET #c = :v REMOVE small",
            "--condition",
            "big > :zero",
            "--names",
            r##"{"#c":"count"}"##,
            "--values",
            r#"{":v":5,":zero":0}"#,
            "--return-values",
            "ALL_NEW",
        ],
    );
    assert_eq!(updated["Attributes"]["count"], json("5"));
    assert!(updated["Attributes"].get("small").is_none());
    let projected = ok(
        cluster,
        &[
            "get",
            "users",
            r#"{"id":"a","ts":1}"#,
            "--projection",
            "#c",
            "--names",
            r##"{"#c":"count"}"##,
        ],
    );
    assert_eq!(projected["Item"], json(r#"{"count":5}"#));
    let deleted = ok(
        cluster,
        &[
            "delete",
            "users",
            r#"{"id":"a","ts":1}"#,
            "--return-values",
            "ALL_OLD",
        ],
    );
    assert_eq!(deleted["Attributes"]["id"], "a");
    assert_eq!(
        ok(cluster, &["get", "users", r#"{"id":"a","ts":1}"#]),
        json("{}")
    );
}

fn reads(cluster: &TestCluster) {
    for ts in 0..6 {
        let item = format!(r#"{{"id":"q","ts":{ts},"even":{}}}"#, ts % 2 == 0);
        ok(cluster, &["put", "users", &item]);
    }
    for id in 0..20 {
        ok(
            cluster,
            &["put", "users", &format!(r#"{{"id":"s{id}","ts":0}}"#)],
        );
    }
    let query = |extra: &[&str]| {
        let mut args = vec![
            "query",
            "users",
            "--key-condition",
            "id = :id AND ts >= :t",
            "--values",
            r#"{":id":"q",":t":1}"#,
        ];
        args.extend_from_slice(extra);
        ok(cluster, &args)
    };
    let all = query(&["--consistent"]);
    assert_eq!(
        (all["Count"].clone(), all["ScannedCount"].clone()),
        (json("5"), json("5"))
    );
    let page = query(&["--limit", "2", "--reverse"]);
    assert_eq!(page["Items"][0]["ts"], json("5"));
    assert_eq!(page["LastEvaluatedKey"], json(r#"{"id":"q","ts":4}"#));
    let next = query(&[
        "--limit",
        "2",
        "--reverse",
        "--start-key",
        r#"{"id":"q","ts":4}"#,
    ]);
    assert_eq!(next["Items"][0]["ts"], json("3"));
    let filtered = ok(
        cluster,
        &[
            "query",
            "users",
            "--key-condition",
            "id = :id",
            "--filter",
            "even = :t",
            "--values",
            r#"{":id":"q",":t":true}"#,
        ],
    );
    assert_eq!(
        (filtered["Count"].clone(), filtered["ScannedCount"].clone()),
        (json("3"), json("6"))
    );
    let scan = ok(cluster, &["scan", "users", "--consistent"]);
    assert_eq!(scan["Count"], json("26"));
    let mut union = BTreeSet::new();
    let mut total = 0;
    for segment in ["0/3", "1/3", "2/3"] {
        let part = ok(
            cluster,
            &[
                "scan",
                "users",
                "--segment",
                segment,
                "--projection",
                "id, ts",
            ],
        );
        for item in part["Items"].as_array().unwrap() {
            union.insert(item.to_string());
            total += 1;
        }
    }
    assert_eq!(
        (union.len(), total),
        (26, 26),
        "segments are disjoint and cover the table"
    );
}

fn errors(cluster: &TestCluster) {
    let stderr = fails(cluster, &["put", "users", "{bad"], 1);
    assert!(
        stderr.starts_with("ValidationException: the item is not valid JSON"),
        "{stderr}"
    );
    let stderr = fails(
        cluster,
        &["update", "users", r#"{"id":"q","ts":1}"#, "--update", "SET"],
        1,
    );
    assert!(stderr.starts_with("ValidationException: "), "{stderr}");
    let stderr = fails(cluster, &["get", "users", r#"{"id":"q"}"#], 1);
    assert!(stderr.starts_with("ValidationException: "), "{stderr}");
    let stderr = fails(cluster, &["get", "nothing", r#"{"id":"q"}"#], 1);
    assert!(
        stderr.starts_with("ResourceNotFoundException: "),
        "{stderr}"
    );
    fails(cluster, &["update", "users", "{}"], 2);
    fails(cluster, &["scan", "users", "--segment", "3"], 2);
}
