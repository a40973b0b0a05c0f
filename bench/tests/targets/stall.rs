//! Open loop records queueing delay: a Redis server stalled on purpose (DEBUG SLEEP 0.2
//! every 0.4 s) looks fine to a closed-loop client, whose one slow request per stall hides
//! among thousands of fast ones (coordinated omission), while the open-loop schedule keeps
//! issuing requests during the stall and charges each its wait since its intended start.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{RedisServer, TempDir, num, resp, run_json};

/// Longest the staller runs, whatever happens to the test.
const STALLER_MAX: Duration = Duration::from_secs(60);

/// Stalls `port` with DEBUG SLEEP until `stop` (or `STALLER_MAX`).
fn staller(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("staller connects");
        let deadline = Instant::now() + STALLER_MAX;
        let mut stalls = 0;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let reply = resp(&mut stream, &["DEBUG", "SLEEP", "0.2"]);
            assert!(reply.starts_with("+OK"), "DEBUG SLEEP refused: {reply}");
            stalls += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        stalls
    })
}

#[test]
fn open_loop_charges_queueing_delay_that_closed_loop_hides_on_a_stalled_redis() {
    let redis = RedisServer::start("redis-stall");
    let dir = TempDir::new("stall-reports");
    let url = redis.url();
    let stop = Arc::new(AtomicBool::new(false));
    let stalls = staller(redis.port, stop.clone());
    let common = [
        "--target",
        &url,
        "--workload",
        "get",
        "--records",
        "100",
        "--concurrency",
        "1",
    ];
    let (closed, _) = run_json(
        &dir.0,
        "closed",
        &[&common[..], &["--duration", "2"]].concat(),
    );
    let open_flags = ["--duration", "2", "--rate", "500", "--skip-load"];
    let (open, _) = run_json(&dir.0, "open", &[&common[..], &open_flags[..]].concat());
    stop.store(true, Ordering::Relaxed);
    assert!(
        stalls.join().expect("staller") >= 8,
        "the server was stalled throughout"
    );
    let closed_p99 = num(&closed, "/total/latency_us/p99");
    let open_p99 = num(&open, "/total/latency_us/p99");
    let closed_max = num(&closed, "/total/latency_us/max");
    // Both saw the stalls: each has a request that waited most of 200 ms.
    assert!(closed_max >= 100_000.0, "closed loop max {closed_max} µs");
    // Only open loop charges the requests that were due during a stall.
    assert!(open_p99 >= 50_000.0, "open loop p99 {open_p99} µs");
    assert!(
        open_p99 > 4.0 * closed_p99,
        "open loop p99 {open_p99} µs should far exceed closed loop p99 {closed_p99} µs"
    );
    assert_eq!(open["config"]["loop_mode"], "open");
    assert_eq!(closed["config"]["loop_mode"], "closed");
}
