//! Control-plane requests: CreateTable, DeleteTable, UpdateTable, DescribeTable and
//! ListTables.
//!
//! The leader of the metadata group (shard 0 of one of the first three nodes) executes them:
//! reads from its catalog, changes by proposing a metadata command to the group and
//! answering once it is applied. The other metadata replicas answer `NotLeader` naming it;
//! any other shard forwards them to it (control-plane traffic is cold; data requests are never
//! forwarded) and refreshes its own catalog copy after a change, so a client that created a
//! table can use it at once through this shard.

use shoal_wire::Error;
use shoal_wire::cluster::{NodeId, ReplicaLocation, ShardId};
use shoal_wire::message::{self as msg, MessageKind};

use super::dispatch::{answer, decode, error_frame};
use super::shard::Shard;
use crate::exec::tables;
use crate::meta::catalog::METADATA_GROUP;
use crate::meta::machine::MetaCommand;
use crate::replication::ProposeError;

/// Handles a control-plane request frame.
pub async fn handle(shard: &Shard, kind: MessageKind, id: u64, payload: &[u8]) -> Vec<u8> {
    use MessageKind as K;
    match kind {
        K::CreateTableRequest => match decode::<msg::CreateTableRequest>(kind, payload) {
            Ok(r) => answer(id, create(shard, r).await),
            Err(e) => error_frame(id, &e),
        },
        K::DeleteTableRequest => match decode::<msg::DeleteTableRequest>(kind, payload) {
            Ok(r) => answer(id, delete(shard, r).await),
            Err(e) => error_frame(id, &e),
        },
        K::UpdateTableRequest => match decode::<msg::UpdateTableRequest>(kind, payload) {
            Ok(r) => answer(id, update(shard, r).await),
            Err(e) => error_frame(id, &e),
        },
        K::DescribeTableRequest => match decode::<msg::DescribeTableRequest>(kind, payload) {
            Ok(r) => answer(id, describe(shard, r).await),
            Err(e) => error_frame(id, &e),
        },
        K::ListTablesRequest => match decode::<msg::ListTablesRequest>(kind, payload) {
            Ok(r) => answer(id, list(shard, r).await),
            Err(e) => error_frame(id, &e),
        },
        other => error_frame(id, &Error::not_supported_yet(other.name())),
    }
}

async fn create(
    shard: &Shard,
    request: msg::CreateTableRequest,
) -> Result<msg::CreateTableResponse, Error> {
    let Some(meta) = local_meta(shard)? else {
        let r = forward(shard, &request).await;
        shard.refresh_catalog().await.ok();
        return r;
    };
    meta.prepare_create(&request)?;
    let command = MetaCommand::CreateTable {
        request,
        now_ms: now_ms(),
    };
    propose(shard, command).await
}

async fn delete(
    shard: &Shard,
    request: msg::DeleteTableRequest,
) -> Result<msg::DeleteTableResponse, Error> {
    let Some(meta) = local_meta(shard)? else {
        let r = forward(shard, &request).await;
        shard.refresh_catalog().await.ok();
        return r;
    };
    meta.lookup(&request.table_name)?;
    propose(shard, MetaCommand::DeleteTable { request }).await
}

async fn update(
    shard: &Shard,
    request: msg::UpdateTableRequest,
) -> Result<msg::UpdateTableResponse, Error> {
    let Some(meta) = local_meta(shard)? else {
        let r = forward(shard, &request).await;
        shard.refresh_catalog().await.ok();
        return r;
    };
    let record = meta.lookup(&request.table_name)?;
    tables::update_table(&record.description, &request, now_ms())?;
    let command = MetaCommand::UpdateTable {
        request,
        now_ms: now_ms(),
    };
    propose(shard, command).await
}

async fn describe(
    shard: &Shard,
    request: msg::DescribeTableRequest,
) -> Result<msg::DescribeTableResponse, Error> {
    let Some(meta) = local_meta(shard)? else {
        return forward(shard, &request).await;
    };
    let record = meta.lookup(&request.table_name)?;
    Ok(msg::DescribeTableResponse {
        table: record.description.clone(),
    })
}

async fn list(
    shard: &Shard,
    request: msg::ListTablesRequest,
) -> Result<msg::ListTablesResponse, Error> {
    if local_meta(shard)?.is_none() {
        return forward(shard, &request).await;
    }
    let names: Vec<String> = shard
        .catalog
        .borrow()
        .tables()
        .map(|r| r.name().to_string())
        .collect();
    tables::list_tables(&names, &request)
}

/// The metadata state machine if this shard leads the metadata group (`None`: not a
/// metadata replica, forward); a replica that does not lead answers `NotLeader` naming
/// shard 0 of the leader's node, which clients and `MetaClient` follow.
pub fn local_meta(shard: &Shard) -> Result<Option<&crate::meta::machine::MetaMachine>, Error> {
    let Some(meta) = shard.meta() else {
        return Ok(None);
    };
    match shard.driver.read_ready(METADATA_GROUP) {
        Ok(()) => Ok(Some(meta)),
        Err(ProposeError::NotLeader { leader, .. }) => {
            let hint = leader.map(|l| ReplicaLocation {
                node: NodeId(l as u32),
                shard: ShardId(0),
            });
            Err(Error::not_leader(hint))
        }
        Err(e) => Err(propose_error(e)),
    }
}

/// Proposes a metadata command and decodes the answer the state machine produced.
async fn propose<R>(shard: &Shard, command: MetaCommand) -> Result<R, Error>
where
    R: msg::Message,
    R::Archived: for<'v> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'v, rkyv::rancor::Error>>
        + rkyv::Deserialize<R, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let data = command.encode()?;
    let applied = shard
        .driver
        .propose(METADATA_GROUP, data)
        .await
        .map_err(propose_error)?;
    // The state machine answers with a frame; decode it back into a typed result so the
    // caller can attach its own request id.
    let frame = (applied.answer)(0);
    decode_frame::<R>(&frame)
}

fn decode_frame<R>(frame: &[u8]) -> Result<R, Error>
where
    R: msg::Message,
    R::Archived: for<'v> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'v, rkyv::rancor::Error>>
        + rkyv::Deserialize<R, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let mut reader = shoal_wire::FrameReader::new();
    reader.extend(frame);
    let f = reader
        .next_frame()
        .map_err(|e| Error::internal(format!("metadata answer: {e}")))?
        .ok_or_else(|| Error::internal("metadata answer: incomplete frame"))?;
    if f.header.kind == MessageKind::ErrorReply {
        let reply = decode::<msg::ErrorReply>(f.header.kind, f.payload)?;
        return Err(reply.to_error());
    }
    decode::<R>(f.header.kind, f.payload)
}

/// Maps a failed proposal to the error a client sees.
pub fn propose_error(e: ProposeError) -> Error {
    match e {
        ProposeError::NotLeader { .. } | ProposeError::Dropped(_) => {
            Error::new(shoal_wire::ErrorKind::ServiceUnavailable, e.to_string())
        }
        ProposeError::NoGroup(g) => Error::internal(format!("group {g} is not hosted here")),
        ProposeError::Storage(reason) => Error::internal(reason),
        // DynamoDB answers a write of unknown outcome with a 500.
        ProposeError::Unknown(_) => Error::internal(e.to_string()),
    }
}

async fn forward<Req, Resp>(shard: &Shard, request: &Req) -> Result<Resp, Error>
where
    Req: msg::Message,
    Resp: msg::Message,
    Resp::Archived: for<'v> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'v, rkyv::rancor::Error>>
        + rkyv::Deserialize<Resp, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let sync = shard
        .sync
        .as_ref()
        .expect("forwarding happens only off the metadata shard");
    sync.client().call(request).await
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
