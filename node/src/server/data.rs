//! Data-plane requests at the shard that owns the key.
//!
//! For every request: resolve the table in the catalog (refreshing the copy once if the table
//! is unknown or the client's map epoch is newer), validate fully (`exec::prepare_*`), find
//! the partition that holds the key's hash and check this shard holds one of its replicas
//! (else answer `WrongShard` carrying the fresh map entry: the shard never forwards data
//! requests). Writes are proposed to the partition's raft group and answered once applied;
//! reads wait until the group may serve them and read the engine directly. A replica that
//! does not lead answers `NotLeader` naming the leader raft knows, so clients follow
//! leadership without asking the metadata group.

use std::rc::Rc;
use std::time::{Duration, Instant};

use shoal_wire::cluster::{NodeId, PartitionMapEntry, ReplicaLocation, ShardId};
use shoal_wire::message::{self as msg, ErrorReply, MessageKind};
use shoal_wire::validate::table_name_from_parameter;
use shoal_wire::{Error, ErrorKind};

use super::control::propose_error;
use super::dispatch::{answer, decode, error_frame, error_reply_frame};
use super::machine::{Command, command_entry, encode_command};
use super::shard::Shard;
use crate::exec::capacity::{MilliUnits, PartitionThrottle};
use crate::exec::{self, BatchWriteProposal, BatchWriteResponse};
use crate::meta::catalog::TableRecord;
use crate::replication::{Prepared, ProposeError};

/// Longest a request waits for its partition's leader to be known (election included).
const READ_READY_WAIT_MAX: Duration = Duration::from_secs(5);

/// A failed request: a plain error, or an error reply with payload (a `WrongShard` entry).
enum Fail {
    Plain(Error),
    Reply(Box<ErrorReply>),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Plain(e)
    }
}

fn fail_frame(id: u64, f: Fail) -> Vec<u8> {
    match f {
        Fail::Plain(e) => error_frame(id, &e),
        Fail::Reply(r) => error_reply_frame(id, *r),
    }
}

/// Handles a data-plane request frame.
pub async fn handle(shard: &Shard, kind: MessageKind, id: u64, payload: &[u8]) -> Vec<u8> {
    use MessageKind as K;
    let result = match kind {
        K::PutItemRequest => put(shard, id, payload, decode(kind, payload)).await,
        K::UpdateItemRequest => update(shard, id, payload, decode(kind, payload)).await,
        K::DeleteItemRequest => delete(shard, id, payload, decode(kind, payload)).await,
        K::GetItemRequest => get(shard, id, decode(kind, payload)).await,
        K::QueryRequest => query(shard, id, decode(kind, payload)).await,
        K::ScanRequest => scan(shard, id, decode(kind, payload)).await,
        K::BatchGetItemRequest => batch_get(shard, id, decode(kind, payload)).await,
        K::BatchWriteItemRequest => batch_write(shard, id, decode(kind, payload)).await,
        other => Err(Error::not_supported_yet(other.name()).into()),
    };
    result.unwrap_or_else(|f| fail_frame(id, f))
}

/// The table a request names, refreshing the catalog copy when it does not know it or the
/// client has seen a newer map.
async fn table_for(shard: &Shard, name: &str, map_epoch: u64) -> Result<Rc<TableRecord>, Error> {
    let name = table_name_from_parameter(name)?;
    let known = shard.catalog.borrow().table(name);
    let stale = map_epoch > shard.catalog.borrow().epoch;
    if known.is_none() || stale {
        shard.refresh_catalog().await?;
    }
    shard
        .catalog
        .borrow()
        .table(name)
        .ok_or_else(|| Error::resource_not_found_named(&format!("Table: {name}")))
}

fn here(shard: &Shard) -> ReplicaLocation {
    ReplicaLocation {
        node: NodeId(shard.node_id),
        shard: ShardId(shard.index),
    }
}

/// Whether this shard holds a replica of the partition `entry` describes.
fn hosts(shard: &Shard, entry: &PartitionMapEntry) -> bool {
    entry.replicas.contains(&here(shard))
}

/// The partition holding `hash` if this shard holds one of its replicas (its group open);
/// else a `WrongShard` reply. Whether this replica leads is the raft group's to say.
async fn owned(shard: &Shard, record: &TableRecord, hash: u64) -> Result<u64, Fail> {
    let entry = record.partition_for(hash);
    if !hosts(shard, entry) {
        return Err(wrong_shard(entry));
    }
    let group = entry.partition.0;
    shard.open_partition(group).await?;
    Ok(group)
}

fn wrong_shard(entry: &PartitionMapEntry) -> Fail {
    let error = Error::wrong_shard(format!(
        "partition {} of table {} is served by node {} shard {}",
        entry.partition.0,
        entry.table.0,
        entry.leader.map_or(0, |l| l.node.0),
        entry.leader.map_or(0, |l| l.shard.0)
    ));
    let mut reply = ErrorReply::from_error(&error);
    reply.partition = Some(entry.clone());
    Fail::Reply(Box::new(reply))
}

/// A `NotLeader` error naming the replica that leads `group`, when raft knows it (the
/// replicas of a partition share the shard index, so the leader's node names it).
pub(super) fn not_leader(shard: &Shard, leader: Option<u64>) -> Error {
    let hint = leader
        .filter(|&l| l != u64::from(shard.node_id) && l != 0)
        .map(|l| ReplicaLocation {
            node: NodeId(l as u32),
            shard: ShardId(shard.index),
        });
    Error::not_leader(hint)
}

/// The error for a proposal that did not apply.
fn propose_fail(shard: &Shard, e: ProposeError) -> Fail {
    match e {
        ProposeError::NotLeader { leader, .. } => not_leader(shard, leader).into(),
        other => propose_error(other).into(),
    }
}

/// Waits (bounded) until this shard's replica of `group` may serve consistent reads; a
/// replica that knows another leader answers `NotLeader` with it at once. Then confirms the
/// leadership with a quorum (ReadIndex) so a deposed leader never serves a stale read.
async fn read_ready(shard: &Shard, group: u64, consistent: Option<bool>) -> Result<(), Error> {
    if consistent != Some(true) && shard.driver.serves_local_reads(group) {
        // Eventually consistent: this replica's applied state, leader or follower (a
        // follower trails the leader by what is in flight to it), unless a snapshot is
        // replacing it (the read then goes to the leader).
        return Ok(());
    }
    let deadline = Instant::now() + READ_READY_WAIT_MAX;
    leadership(shard, group, deadline).await?;
    let wait = deadline.saturating_duration_since(Instant::now());
    let barrier = std::pin::pin!(shard.driver.read_barrier(group));
    let timer = std::pin::pin!(crate::rt::sleep(wait));
    match futures::future::select(barrier, timer).await {
        futures::future::Either::Left((Ok(()), _)) => Ok(()),
        futures::future::Either::Left((Err(ProposeError::NotLeader { leader, .. }), _)) => {
            Err(not_leader(shard, leader))
        }
        futures::future::Either::Left((Err(e), _)) => {
            Err(Error::new(ErrorKind::ServiceUnavailable, e.to_string()))
        }
        futures::future::Either::Right(_) => Err(Error::new(
            ErrorKind::ServiceUnavailable,
            format!("partition {group}: leadership not confirmed in time"),
        )),
    }
}

/// Waits (until `deadline`) while `group` has no leader (an election is under way); `Ok`
/// once this replica leads and has applied an entry of its term, `NotLeader` naming the
/// leader as soon as another replica is known to lead.
async fn leadership(shard: &Shard, group: u64, deadline: Instant) -> Result<(), Error> {
    loop {
        match shard.driver.read_ready(group) {
            Ok(()) => return Ok(()),
            Err(ProposeError::NotLeader {
                leader: Some(l), ..
            }) if l != u64::from(shard.node_id) => {
                return Err(not_leader(shard, Some(l)));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::new(ErrorKind::ServiceUnavailable, e.to_string()));
            }
            Err(_) => crate::rt::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// Which bucket of a partition's throttle.
#[derive(Clone, Copy)]
enum Use {
    Read,
    Write,
}

/// Admits a request against its partition's provisioned throughput (PROVISIONED tables;
/// on-demand tables are not throttled here).
fn admit(shard: &Shard, record: &TableRecord, group: u64, use_: Use) -> Result<(), Error> {
    let now = Instant::now();
    let epoch = shard.catalog.borrow().epoch;
    let mut throttles = shard.throttles.borrow_mut();
    let parts = record.partitions.len() as u32;
    let (seen, throttle) = throttles.entry(group).or_insert_with(|| {
        (
            epoch,
            PartitionThrottle::for_table(&record.description, parts, now),
        )
    });
    if *seen != epoch {
        throttle.reconfigure(&record.description, parts, now);
        *seen = epoch;
    }
    match use_ {
        Use::Read => throttle.admit_read(now),
        Use::Write => throttle.admit_write(now),
    }
}

/// Charges what an admitted request actually consumed.
fn charge(shard: &Shard, group: u64, use_: Use, units: MilliUnits) {
    let now = Instant::now();
    if let Some((_, t)) = shard.throttles.borrow_mut().get_mut(&group) {
        match use_ {
            Use::Read => t.charge_read(units, now),
            Use::Write => t.charge_write(units, now),
        }
    }
}

/// Proposes a write whose request arrived as `payload` (of `kind`) and decoded to
/// `decoded`: the entry holds the payload as it came, and this replica applies `decoded`.
async fn propose(
    shard: &Shard,
    id: u64,
    record: &TableRecord,
    group: u64,
    (kind, payload): (MessageKind, &[u8]),
    decoded: Command,
) -> Result<Vec<u8>, Fail> {
    leadership(shard, group, Instant::now() + READ_READY_WAIT_MAX).await?;
    admit(shard, record, group, Use::Write)?;
    let command = command_entry(kind, payload, &decoded)?;
    let applied = shard
        .driver
        .propose_prepared(group, command, Some(Box::new(decoded)))
        .await
        .map_err(|e| propose_fail(shard, e))?;
    charge(shard, group, Use::Write, applied.capacity);
    Ok((applied.answer)(id))
}

async fn put(
    shard: &Shard,
    id: u64,
    payload: &[u8],
    req: Result<msg::PutItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let prepared = exec::prepare_put(&record.description, record.id, &req)?;
    let hash = prepared.key.hash;
    let checks = prepared.into_checks();
    let group = owned(shard, &record, hash).await?;
    let raw = (MessageKind::PutItemRequest, payload);
    let decoded = Command::Put(req, Some((record.clone(), checks)));
    propose(shard, id, &record, group, raw, decoded).await
}

async fn update(
    shard: &Shard,
    id: u64,
    payload: &[u8],
    req: Result<msg::UpdateItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let hash = exec::prepare_update(&record.description, record.id, &req)?
        .key
        .hash;
    let group = owned(shard, &record, hash).await?;
    let raw = (MessageKind::UpdateItemRequest, payload);
    propose(shard, id, &record, group, raw, Command::Update(req)).await
}

async fn delete(
    shard: &Shard,
    id: u64,
    payload: &[u8],
    req: Result<msg::DeleteItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let hash = exec::prepare_delete(&record.description, record.id, &req)?
        .key
        .hash;
    let group = owned(shard, &record, hash).await?;
    let raw = (MessageKind::DeleteItemRequest, payload);
    propose(shard, id, &record, group, raw, Command::Delete(req)).await
}

async fn get(
    shard: &Shard,
    id: u64,
    req: Result<msg::GetItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let prepared = exec::prepare_get(&record.description, record.id, &req)?;
    let group = owned(shard, &record, prepared.key.hash).await?;
    read_ready(shard, group, req.consistent_read).await?;
    admit(shard, &record, group, Use::Read)?;
    let outcome = prepared.execute(&shard.engine).await?;
    charge(shard, group, Use::Read, outcome.capacity);
    Ok(answer(id, Ok::<_, Error>(outcome.response)))
}

async fn query(
    shard: &Shard,
    id: u64,
    req: Result<msg::QueryRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let prepared = exec::prepare_query(&record.description, record.id, &req)?;
    let group = owned(shard, &record, prepared.hash).await?;
    read_ready(shard, group, req.consistent_read).await?;
    admit(shard, &record, group, Use::Read)?;
    let outcome = prepared.execute(&shard.engine).await?;
    charge(shard, group, Use::Read, outcome.capacity);
    Ok(answer(id, Ok::<_, Error>(outcome.response)))
}

async fn scan(
    shard: &Shard,
    id: u64,
    req: Result<msg::ScanRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let record = table_for(shard, &req.table_name, req.map_epoch.0).await?;
    let prepared = exec::prepare_scan(&record.description, record.id, &req)?;
    let range = req
        .hash_range
        .as_ref()
        .map_or((0, u64::MAX), |r| (r.start, r.end));
    let from = match &prepared.start {
        Some((_, hash)) => *hash,
        None => range.0.max(prepared.segment_hashes.0),
    };
    let entry = record.partition_for(from).clone();
    let group = owned(shard, &record, from).await?;
    read_ready(shard, group, req.consistent_read).await?;
    admit(shard, &record, group, Use::Read)?;
    let start = from.max(entry.hash_start);
    let end = entry.hash_end.min(range.1);
    let page = prepared.execute(&shard.engine, start, end).await?;
    charge(shard, group, Use::Read, page.capacity);
    Ok(answer(id, Ok::<_, Error>(page.response)))
}

async fn batch_get(
    shard: &Shard,
    id: u64,
    req: Result<msg::BatchGetItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let records = tables_of(shard, req.request_items.keys()).await?;
    let mut prepared = exec::prepare_batch_get(&req, |name| {
        records
            .iter()
            .find(|r| r.name() == name)
            .map(|r| (&r.description, r.id))
    })?;
    // Keys another shard owns go back unprocessed; the client sends them there.
    let mut unowned: Vec<(&str, &shoal_wire::value::Item)> = Vec::new();
    let mut groups = Vec::new();
    for table in &prepared.tables {
        let record = records
            .iter()
            .find(|r| r.id == table.table_id)
            .expect("looked up");
        for (key, item_key) in &table.keys {
            let entry = record.partition_for(item_key.hash);
            if hosts(shard, entry) {
                groups.push(entry.partition.0);
            } else {
                unowned.push((table.request_name, *key));
            }
        }
    }
    let here_loc = here(shard);
    prepared.retain(|table, hash| {
        records
            .iter()
            .find(|r| r.id == table)
            .is_some_and(|r| r.partition_for(hash).replicas.contains(&here_loc))
    });
    groups.sort_unstable();
    groups.dedup();
    for &group in &groups {
        shard.open_partition(group).await?;
        read_ready(shard, group, Some(true)).await?;
    }
    let mut outcome = exec::batch_get(&shard.engine, &prepared).await?;
    exec::add_unprocessed_keys(&mut outcome.response, &req, unowned);
    if let Some(&group) = groups.first() {
        charge(shard, group, Use::Read, outcome.capacity);
    }
    Ok(answer(id, Ok::<_, Error>(outcome.response)))
}

async fn batch_write(
    shard: &Shard,
    id: u64,
    req: Result<msg::BatchWriteItemRequest, Error>,
) -> Result<Vec<u8>, Fail> {
    let req = req?;
    let records = tables_of(shard, req.request_items.keys()).await?;
    let prepared = exec::prepare_batch_write(&req, |name| {
        records
            .iter()
            .find(|r| r.name() == name)
            .map(|r| (&r.description, r.id))
    })?;
    // The client routed this part by its first item's partition: if another replica leads
    // that one, say so (nothing is proposed), so the client learns the leader instead of
    // getting the part back unprocessed round after round. Items of other partitions this
    // replica does not lead still come back unprocessed.
    if let Some(first) = prepared.writes.first()
        && let Some(record) = records.iter().find(|r| r.id == first.table_id)
    {
        let entry = record.partition_for(first.key.hash);
        if hosts(shard, entry) {
            let group = entry.partition.0;
            shard.open_partition(group).await?;
            if let Err(ProposeError::NotLeader {
                leader: Some(l), ..
            }) = shard.driver.read_ready(group)
                && l != u64::from(shard.node_id)
            {
                return Err(not_leader(shard, Some(l)).into());
            }
        }
    }
    let mut response = BatchWriteResponse::new(&req);
    let mut pending = Vec::new();
    for write in &prepared.writes {
        let record = records
            .iter()
            .find(|r| r.id == write.table_id)
            .expect("looked up");
        let entry = record.partition_for(write.key.hash);
        if !hosts(shard, entry) {
            response.unprocessed(write);
            continue;
        }
        let group = entry.partition.0;
        shard.open_partition(group).await?;
        if leadership(shard, group, Instant::now() + READ_READY_WAIT_MAX)
            .await
            .is_err()
        {
            response.unprocessed(write);
            continue;
        }
        let (command, decoded) = match write.proposal(req.return_consumed_capacity) {
            BatchWriteProposal::Put(p) => (encode_command(&p)?, Command::Put(p, None)),
            BatchWriteProposal::Delete(d) => (encode_command(&d)?, Command::Delete(d)),
        };
        if admit(shard, record, group, Use::Write).is_err() {
            response.unprocessed(write);
            continue;
        }
        let driver = shard.driver.clone();
        let decoded: Prepared = Box::new(decoded);
        let task = glommio::spawn_local(async move {
            driver.propose_prepared(group, command, Some(decoded)).await
        });
        pending.push((write, group, task));
    }
    for (write, group, task) in pending {
        let done = task
            .await
            .ok()
            .map(|a| (a.capacity, is_error_frame(&(a.answer)(0))));
        match done {
            Some((units, false)) => {
                charge(shard, group, Use::Write, units);
                response.applied(write, units);
            }
            _ => response.unprocessed(write),
        }
    }
    Ok(answer(id, Ok::<_, Error>(response.finish())))
}

fn is_error_frame(frame: &[u8]) -> bool {
    frame.len() >= 12
        && u16::from_le_bytes([frame[10], frame[11]]) == MessageKind::ErrorReply.code()
}

/// Resolves every table a batch names.
async fn tables_of<'a>(
    shard: &Shard,
    names: impl Iterator<Item = &'a String>,
) -> Result<Vec<Rc<TableRecord>>, Error> {
    let mut out = Vec::new();
    for name in names {
        match table_for(shard, name, 0).await {
            Ok(r) => out.push(r),
            Err(e) if e.kind == ErrorKind::ResourceNotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
