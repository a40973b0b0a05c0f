//! The metadata group's state machine: CreateTable, UpdateTable and DeleteTable applied in
//! log order on the metadata shard.
//!
//! Each command carries the proposer's clock reading, so every replica derives the same
//! creation time; table ids come from a counter in the replicated state; partitions are
//! placed over every shard of the cluster file (one partition per shard, round robin), so a
//! new table covers every core. Records live in the engine under table id 0:
//! `0u64 ‖ "t/" ‖ name` → the table record, `0u64 ‖ "s"` → the counters.
//!
//! Invariant: the catalog in memory equals what the engine holds at the applied index;
//! every command records its position even when it is rejected.

use std::cell::{Cell, RefCell};
use std::ops::Bound;
use std::rc::Rc;

use shoal_wire::Error;
use shoal_wire::cluster::{Epoch, TableId};
use shoal_wire::message::{
    CreateTableRequest, CreateTableResponse, DeleteTableRequest, DeleteTableResponse,
    UpdateTableRequest, UpdateTableResponse,
};
use shoal_wire::validate::table_name_from_parameter;

use super::catalog::{Catalog, TableRecord, place_partitions};
use crate::exec::tables;
use crate::server::dispatch::{answer, error_frame};
use crate::server::machine::Answer;
use crate::storage::dma::DmaDisk;
use crate::storage::{Engine, Op, StorageError};

const META_TABLE_PREFIX: &[u8] = b"\0\0\0\0\0\0\0\0t/";
const META_STATE_KEY: &[u8] = b"\0\0\0\0\0\0\0\0s";
/// Tables the catalog holds at most.
pub const TABLES_MAX: usize = 2500;

/// A metadata command, as replicated.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone)]
pub enum MetaCommand {
    /// CreateTable at the proposer's time.
    CreateTable {
        /// The request.
        request: CreateTableRequest,
        /// Milliseconds since the epoch at the proposer.
        now_ms: u64,
    },
    /// DeleteTable.
    DeleteTable {
        /// The request.
        request: DeleteTableRequest,
    },
    /// UpdateTable at the proposer's time.
    UpdateTable {
        /// The request.
        request: UpdateTableRequest,
        /// Milliseconds since the epoch at the proposer.
        now_ms: u64,
    },
}

impl MetaCommand {
    /// Encodes the command for a raft entry.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        rkyv::to_bytes::<rkyv::rancor::Error>(self)
            .map(|b| b.to_vec())
            .map_err(|e| Error::internal(format!("encode metadata command: {e}")))
    }
}

/// The metadata state machine.
pub struct MetaMachine {
    engine: Engine<DmaDisk>,
    catalog: Rc<RefCell<Catalog>>,
    placement: Vec<(u32, u16)>,
    next_table_id: Cell<u64>,
}

impl MetaMachine {
    /// Loads the catalog from the engine into `catalog`. `placement` lists every (node,
    /// shard) of the cluster in order.
    pub async fn load(
        engine: Engine<DmaDisk>,
        catalog: Rc<RefCell<Catalog>>,
        placement: Vec<(u32, u16)>,
    ) -> Result<Self, StorageError> {
        let (records, next, epoch) = read_catalog(&engine).await?;
        *catalog.borrow_mut() = Catalog::from_records(epoch, records);
        Ok(Self {
            engine,
            catalog,
            placement,
            next_table_id: Cell::new(next),
        })
    }

    /// Reads the catalog again from the engine (after a snapshot replaced it).
    pub async fn reload(&self) -> Result<(), StorageError> {
        let (records, next, epoch) = read_catalog(&self.engine).await?;
        *self.catalog.borrow_mut() = Catalog::from_records(epoch, records);
        self.next_table_id.set(next);
        Ok(())
    }

    /// Checks a CreateTable before it is proposed (the same checks run again at apply).
    pub fn prepare_create(&self, request: &CreateTableRequest) -> Result<(), Error> {
        tables::validate_create_table(request)?;
        if self.catalog.borrow().table(&request.table_name).is_some() {
            return Err(Error::resource_in_use(format!(
                "Table already exists: {}",
                request.table_name
            )));
        }
        Ok(())
    }

    /// Applies metadata entry `index`.
    pub async fn apply(&self, index: u64, data: &[u8]) -> Result<Answer, StorageError> {
        let command = match rkyv::from_bytes::<MetaCommand, rkyv::rancor::Error>(data) {
            Ok(c) => c,
            Err(e) => {
                let err = Error::internal(format!("unreadable metadata command: {e}"));
                return self.record(index, Vec::new(), Err(err)).await;
            }
        };
        match command {
            MetaCommand::CreateTable { request, now_ms } => {
                let (ops, result) = self.create(&request, now_ms);
                self.record(index, ops, result.map(boxed_create)).await
            }
            MetaCommand::DeleteTable { request } => {
                let (ops, result) = self.delete(&request);
                self.record(index, ops, result.map(boxed_delete)).await
            }
            MetaCommand::UpdateTable { request, now_ms } => {
                let (ops, result) = self.update(&request, now_ms);
                self.record(index, ops, result.map(boxed_update)).await
            }
        }
    }

    fn create(
        &self,
        request: &CreateTableRequest,
        now_ms: u64,
    ) -> (Vec<Op>, Result<CreateTableResponse, Error>) {
        if let Err(e) = self.prepare_create(request) {
            return (Vec::new(), Err(e));
        }
        if self.catalog.borrow().len() >= TABLES_MAX {
            let e = Error::limit_exceeded(format!("the cluster holds {TABLES_MAX} tables already"));
            return (Vec::new(), Err(e));
        }
        let id = TableId(self.next_table_id.get());
        let description = match tables::create_table(request, id, now_ms) {
            Ok(d) => d,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let epoch = Epoch(self.catalog.borrow().epoch + 1);
        let count = self.placement.len() as u32;
        let record = TableRecord {
            id,
            description: description.clone(),
            partitions: place_partitions(id, count, &self.placement, epoch),
        };
        self.next_table_id.set(id.0 + 1);
        let ops = self.commit_record(record, epoch);
        (
            ops,
            Ok(CreateTableResponse {
                table_description: description,
            }),
        )
    }

    fn delete(
        &self,
        request: &DeleteTableRequest,
    ) -> (Vec<Op>, Result<DeleteTableResponse, Error>) {
        let record = match self.lookup(&request.table_name) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let description = match tables::delete_table(&record.description) {
            Ok(d) => d,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let mut catalog = self.catalog.borrow_mut();
        catalog.remove(record.name());
        catalog.epoch += 1;
        let ops = vec![
            Op {
                key: table_key(record.name()),
                value: None,
            },
            self.state_op(catalog.epoch),
        ];
        (
            ops,
            Ok(DeleteTableResponse {
                table_description: description,
            }),
        )
    }

    fn update(
        &self,
        request: &UpdateTableRequest,
        now_ms: u64,
    ) -> (Vec<Op>, Result<UpdateTableResponse, Error>) {
        let record = match self.lookup(&request.table_name) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let description = match tables::update_table(&record.description, request, now_ms) {
            Ok(d) => d,
            Err(e) => return (Vec::new(), Err(e)),
        };
        let epoch = Epoch(self.catalog.borrow().epoch + 1);
        let mut updated = (*record).clone();
        updated.description = description.clone();
        for p in &mut updated.partitions {
            p.epoch = epoch;
        }
        let ops = self.commit_record(updated, epoch);
        (
            ops,
            Ok(UpdateTableResponse {
                table_description: description,
            }),
        )
    }

    /// The record of the table `name` (a name or an ARN).
    pub fn lookup(&self, name: &str) -> Result<Rc<TableRecord>, Error> {
        let name = table_name_from_parameter(name)?;
        self.catalog
            .borrow()
            .table(name)
            .ok_or_else(|| Error::resource_not_found_named(&format!("Table: {name}")))
    }

    /// Puts `record` into the catalog at `epoch` and returns the ops that store it.
    fn commit_record(&self, record: TableRecord, epoch: Epoch) -> Vec<Op> {
        let value = record.encode().expect("a table record always encodes");
        let key = table_key(record.name());
        let mut catalog = self.catalog.borrow_mut();
        catalog.insert(record);
        catalog.epoch = epoch.0;
        vec![
            Op {
                key,
                value: Some(value),
            },
            self.state_op(epoch.0),
        ]
    }

    fn state_op(&self, epoch: u64) -> Op {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&self.next_table_id.get().to_le_bytes());
        v.extend_from_slice(&epoch.to_le_bytes());
        Op {
            key: META_STATE_KEY.to_vec(),
            value: Some(v),
        }
    }

    async fn record(
        &self,
        index: u64,
        ops: Vec<Op>,
        result: Result<Answer, Error>,
    ) -> Result<Answer, StorageError> {
        self.engine.apply_committed(0, index, ops).await?;
        Ok(match result {
            Ok(a) => a,
            Err(e) => Box::new(move |id| error_frame(id, &e)),
        })
    }
}

fn boxed_create(r: CreateTableResponse) -> Answer {
    Box::new(move |id| answer(id, Ok(r)))
}

fn boxed_delete(r: DeleteTableResponse) -> Answer {
    Box::new(move |id| answer(id, Ok(r)))
}

fn boxed_update(r: UpdateTableResponse) -> Answer {
    Box::new(move |id| answer(id, Ok(r)))
}

/// The table records, next table id and map epoch the metadata keys of `engine` hold.
async fn read_catalog(
    engine: &Engine<DmaDisk>,
) -> Result<(Vec<TableRecord>, u64, u64), StorageError> {
    let mut hi = META_TABLE_PREFIX.to_vec();
    *hi.last_mut().expect("non-empty prefix") += 1;
    let rows = engine
        .scan(
            Bound::Included(META_TABLE_PREFIX),
            Bound::Excluded(&hi),
            false,
            TABLES_MAX,
            usize::MAX,
        )
        .await?;
    let mut records = Vec::with_capacity(rows.len());
    for (key, value) in rows {
        let record = TableRecord::decode(&value).map_err(|e| {
            StorageError::Invalid(format!("metadata record {key:?} is unreadable: {e}"))
        })?;
        records.push(record);
    }
    let (next, epoch) = match engine.get(META_STATE_KEY).await? {
        Some(v) if v.len() == 16 => (u64_le(&v[..8]), u64_le(&v[8..])),
        Some(_) => return Err(StorageError::Invalid("metadata state is unreadable".into())),
        None => (1, 0),
    };
    Ok((records, next, epoch))
}

fn table_key(name: &str) -> Vec<u8> {
    let mut k = META_TABLE_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

fn u64_le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}
