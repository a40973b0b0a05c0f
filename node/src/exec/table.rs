//! The table a request addresses, as execution needs it: the description, the internal id and
//! the resolved key schema; plus storage keys of items and the index-name rule.
//!
//! Invariant: a `TableContext` exists only for a description whose key schema resolves (the
//! catalog built it with `tables::create_table`), so key extraction and encoding never fail
//! on the schema itself; a description that does not resolve is reported as an internal error.
//! Does not look tables up by name: the server resolves `TableName` (name or ARN) with
//! [`table_name_from_parameter`] and passes the description in.

use shoal_wire::Error;
use shoal_wire::cluster::TableId;
use shoal_wire::key::encode_key_with_hash;
use shoal_wire::schema::{KeySchema, TableDescription, TableStatus};
use shoal_wire::validate::{key_of, validate_key, validate_resource_name};
use shoal_wire::value::Item;

pub use shoal_wire::validate::table_name_from_parameter;

/// A table and its resolved key schema.
#[derive(Clone, Debug)]
pub struct TableContext<'a> {
    /// The description from the catalog.
    pub description: &'a TableDescription,
    /// The internal id (first component of storage keys).
    pub id: TableId,
    /// The resolved primary key.
    pub schema: KeySchema,
}

/// Where an item lives: its storage key and partition hash (the server routes on the hash).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemKey {
    /// `wire::key` storage key: table id ‖ hash ‖ partition key ‖ sort key.
    pub storage_key: Vec<u8>,
    /// The frozen partition hash of the partition-key value.
    pub hash: u64,
}

impl<'a> TableContext<'a> {
    /// Resolves the description's key schema.
    pub fn new(description: &'a TableDescription, id: TableId) -> Result<TableContext<'a>, Error> {
        let schema =
            KeySchema::resolve(&description.key_schema, &description.attribute_definitions)
                .map_err(|error| {
                    Error::internal(format!(
                        "table {} has an unusable key schema: {}",
                        description.table_name, error.message
                    ))
                })?;
        Ok(TableContext {
            description,
            id,
            schema,
        })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.description.table_name
    }

    /// Item operations need a table that exists for clients: not CREATING or archived.
    pub fn check_usable(&self) -> Result<(), Error> {
        match self.description.table_status {
            TableStatus::Active | TableStatus::Updating | TableStatus::Deleting => Ok(()),
            _ => Err(Error::resource_not_found()),
        }
    }

    /// Names of the key attributes, partition first.
    pub fn key_names(&self) -> Vec<&str> {
        self.schema.attributes().map(|a| a.name.as_str()).collect()
    }

    /// The key attributes of an item (or of a key) that has passed validation.
    pub fn key_of(&self, item: &Item) -> Item {
        key_of(item, &self.schema)
    }

    /// Validates a `Key` (exact attributes, types, sizes) and returns where it lives.
    pub fn validated_key(&self, key: &Item) -> Result<ItemKey, Error> {
        validate_key(key, &self.schema)?;
        self.item_key(key)
    }

    /// Where an item (or key) that has passed validation lives.
    pub fn item_key(&self, item: &Item) -> Result<ItemKey, Error> {
        let missing = || Error::internal("validated item lacks a key attribute");
        let partition = item.get(&self.schema.partition.name).ok_or_else(missing)?;
        let sort = match &self.schema.sort {
            Some(sort) => Some(item.get(&sort.name).ok_or_else(missing)?),
            None => None,
        };
        let (storage_key, hash) = encode_key_with_hash(self.id, partition, sort)
            .map_err(|error| Error::internal(error.to_string()))?;
        Ok(ItemKey { storage_key, hash })
    }

    /// Checks `IndexName`: a valid name that the table has. Secondary indexes are not
    /// executed yet, so a real index is a `NotSupportedYet` refusal.
    pub fn check_index(&self, index_name: Option<&str>) -> Result<(), Error> {
        let Some(name) = index_name else {
            return Ok(());
        };
        validate_resource_name(name, "indexName")?;
        let description = self.description;
        let exists = description
            .local_secondary_indexes
            .iter()
            .map(|i| &i.index_name)
            .chain(
                description
                    .global_secondary_indexes
                    .iter()
                    .map(|i| &i.index_name),
            )
            .any(|index| index == name);
        if exists {
            return Err(Error::new(
                shoal_wire::ErrorKind::NotSupportedYet,
                format!("Reading secondary index {name} is not supported yet by this node"),
            ));
        }
        Err(Error::validation(format!(
            "The table does not have the specified index: {name}"
        )))
    }
}
