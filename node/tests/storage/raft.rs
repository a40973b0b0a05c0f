//! The raft driver over the shard log: proposals commit with one fsync per pass, apply in
//! order, survive a crash, and are re-applied from the log after a restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shoal_node::replication::{DriverConfig, Prepared, ProposeError, RaftDriver, StateMachine};
use shoal_node::storage::sim::SimDisk;
use shoal_node::storage::{Engine, EngineConfig, Op, StorageError};

use crate::support::run;

/// Writes each entry's data as a key whose value is the entry index.
struct KeyWriter {
    engine: Engine<SimDisk>,
    /// Entries applied with what their proposer attached (always a copy of the data).
    prepared_seen: std::rc::Rc<std::cell::Cell<u64>>,
}

impl StateMachine for KeyWriter {
    type Output = u64;

    async fn apply(
        &self,
        group: u64,
        index: u64,
        data: &[u8],
        prepared: Option<Prepared>,
    ) -> Result<u64, StorageError> {
        if let Some(p) = prepared {
            let attached = p
                .downcast::<Vec<u8>>()
                .expect("the proposer attached a Vec<u8>");
            assert_eq!(
                *attached, data,
                "entry {index} got another proposal's attachment"
            );
            self.prepared_seen.set(self.prepared_seen.get() + 1);
        }
        let op = Op {
            key: data.to_vec(),
            value: Some(index.to_le_bytes().to_vec()),
        };
        self.engine.apply_committed(group, index, vec![op]).await?;
        Ok(index)
    }

    fn snapshot_range(&self, _group: u64) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        Some((b"key-".to_vec(), Some(b"key.".to_vec())))
    }

    async fn restored(&self, _group: u64) -> Result<(), StorageError> {
        Ok(())
    }
}

fn config() -> DriverConfig {
    DriverConfig {
        replica_id: 1,
        tick: Duration::from_millis(20),
        election_ticks: 10,
        heartbeat_ticks: 2,
        log_kept_for_followers: 1000,
        // Applied entries leave memory at once: the group runs on the WAL alone.
        log_cache_bytes: 0,
    }
}

async fn start(disk: &SimDisk, dir: &Path) -> RaftDriver<SimDisk, KeyWriter> {
    let cfg = EngineConfig::with_cache_bytes(1 << 20).for_raft();
    let engine = Engine::open(disk.clone(), dir, cfg).await.expect("engine");
    let machine = KeyWriter {
        engine: engine.clone(),
        prepared_seen: Default::default(),
    };
    let driver = RaftDriver::new(config(), engine.clone(), machine, 0, None);
    driver.open_group(7, vec![1]).await.expect("open group");
    let d = driver.clone();
    glommio::spawn_local(async move { d.run().await }).detach();
    driver
}

async fn propose_all(driver: &RaftDriver<SimDisk, KeyWriter>, keys: std::ops::Range<u32>) {
    let mut tasks = Vec::new();
    for k in keys {
        let d = driver.clone();
        tasks.push(glommio::spawn_local(async move {
            let data = format!("key-{k:04}").into_bytes();
            d.propose_prepared(7, data.clone(), Some(Box::new(data)))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("proposal applied");
    }
}

#[test]
fn proposals_commit_apply_and_survive_a_crash() {
    run(|| async {
        let disk = SimDisk::new();
        let dir = PathBuf::from("/sim/shard-0");
        let driver = start(&disk, &dir).await;
        assert!(matches!(
            driver.read_ready(7),
            Err(ProposeError::NotLeader { .. })
        ));
        propose_all(&driver, 0..100).await;
        assert_eq!(
            driver.machine().prepared_seen.get(),
            100,
            "every proposal applied with its attachment"
        );
        driver
            .read_ready(7)
            .expect("leader with an applied entry of its term");
        let fsyncs = driver.engine().stats().wal.fsyncs;
        assert!(
            fsyncs < 100,
            "{fsyncs} fsyncs for 100 concurrent proposals: no group commit"
        );
        driver.engine().checkpoint().await.expect("checkpoint");
        propose_all(&driver, 100..150).await;
        assert_eq!(
            driver
                .propose(99, b"x".to_vec())
                .await
                .expect_err("no such group"),
            ProposeError::NoGroup(99)
        );

        // Crash: every acknowledged entry is in the log; those after the checkpoint are
        // re-applied from it.
        driver.close();
        disk.crash(5);
        let disk = disk.after_crash();
        let driver = start(&disk, &dir).await;
        // Reads wait until the restarted leader applied an entry of its new term: by then
        // every entry committed before the crash is applied again.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while driver.read_ready(7).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "no leader after restart"
            );
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        for k in 0..150u32 {
            let got = driver
                .engine()
                .get(format!("key-{k:04}").as_bytes())
                .await
                .expect("get");
            assert!(got.is_some(), "acknowledged entry {k} lost");
        }
        propose_all(&driver, 150..160).await;
        assert!(driver.engine().applied(7) >= 160);
        assert_eq!(
            driver.machine().prepared_seen.get(),
            10,
            "entries re-applied from the log carry no attachment; new proposals do"
        );
        driver.close();
    });
}
