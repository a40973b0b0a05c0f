//! Table schemas and descriptions: key schemas, attribute definitions, indexes, projections,
//! throughput, streams, encryption, TTL and the `TableDescription` that control-plane
//! responses carry (dynamodb-semantics.md §2.1, §6, §11, §12, §13.1).
//!
//! Invariant: a [`KeySchema`] is resolved (names bound to their declared scalar types, HASH
//! first, at most one RANGE); the raw request shapes (`KeySchemaElement`,
//! `AttributeDefinition`) only become one through [`KeySchema::resolve`], which applies
//! DynamoDB's rules. Times are milliseconds since the Unix epoch (`_ms`); capacity is in
//! whole units, consumed capacity in thousandths (`_milli`), so no floating point travels.
//! Does not check whole CreateTable requests (index counts, projections, billing): the node's
//! request validation does, with the helpers in `validate`.

use std::fmt;

use crate::cluster::TableId;
use crate::error::Error;
use crate::limits::KEY_ATTRIBUTE_NAME_SIZE_MAX;

wire_names! {
    /// The three types a key attribute may have.
    pub enum ScalarType {
        /// String.
        S = "S",
        /// Number.
        N = "N",
        /// Binary.
        B = "B",
    }
}

wire_names! {
    /// Role of a key attribute.
    pub enum KeyType {
        /// Partition key.
        Hash = "HASH",
        /// Sort key.
        Range = "RANGE",
    }
}

wire_struct! {
    /// `AttributeDefinition`: a key attribute's declared type.
    pub struct AttributeDefinition {
        /// Attribute name.
        pub attribute_name: String,
        /// Declared type.
        pub attribute_type: ScalarType,
    }
}

wire_struct! {
    /// `KeySchemaElement`: one entry of a `KeySchema` list as requests spell it.
    pub struct KeySchemaElement {
        /// Attribute name.
        pub attribute_name: String,
        /// HASH or RANGE.
        pub key_type: KeyType,
    }
}

wire_struct! {
    /// A key attribute bound to its declared type.
    #[derive(Eq, Hash)]
    pub struct KeyAttribute {
        /// Attribute name.
        pub name: String,
        /// Declared type.
        pub scalar_type: ScalarType,
    }
}

wire_struct! {
    /// A resolved primary key (of a table or an LSI): partition key and optional sort key.
    #[derive(Eq, Hash)]
    pub struct KeySchema {
        /// The HASH attribute.
        pub partition: KeyAttribute,
        /// The RANGE attribute, if the key is composite.
        pub sort: Option<KeyAttribute>,
    }
}

impl KeySchema {
    /// Resolves a request's `KeySchema` list against `AttributeDefinitions` with DynamoDB's
    /// rules: one HASH first, at most one RANGE after it, different names, names of at most
    /// 255 bytes, each defined exactly once with type S, N or B.
    pub fn resolve(
        elements: &[KeySchemaElement],
        definitions: &[AttributeDefinition],
    ) -> Result<KeySchema, Error> {
        let invalid =
            |detail: &str| Error::validation(format!("1 validation error detected: {detail}"));
        let (first, rest) = elements.split_first().ok_or_else(|| {
            invalid(
                "Value '[]' at 'keySchema' failed to satisfy constraint: Member must have \
                     length greater than or equal to 1",
            )
        })?;
        if rest.len() > 1 {
            return Err(invalid(&format!(
                "Value at 'keySchema' failed to satisfy constraint: Member must have length \
                 less than or equal to 2 (length {})",
                elements.len()
            )));
        }
        if first.key_type != KeyType::Hash {
            return Err(Error::validation(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
            ));
        }
        let partition = bind(first, definitions)?;
        let sort = match rest.first() {
            None => None,
            Some(second) if second.key_type == KeyType::Hash => {
                return Err(Error::validation(
                    "Too many hash keys specified.  All Dynamo DB \
                    tables must have exactly one hash key",
                ));
            }
            Some(second) if second.attribute_name == first.attribute_name => {
                return Err(Error::validation(
                    "Both the Hash Key and the Range Key element in the KeySchema have the \
                     same name",
                ));
            }
            Some(second) => Some(bind(second, definitions)?),
        };
        Ok(KeySchema { partition, sort })
    }

    /// The key attributes, partition first.
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    /// True if `name` is one of the key attributes.
    pub fn contains(&self, name: &str) -> bool {
        self.attributes().any(|attribute| attribute.name == name)
    }

    /// The request form: `KeySchema` elements, HASH first.
    pub fn elements(&self) -> Vec<KeySchemaElement> {
        let element = |attribute: &KeyAttribute, key_type| KeySchemaElement {
            attribute_name: attribute.name.clone(),
            key_type,
        };
        let mut elements = vec![element(&self.partition, KeyType::Hash)];
        elements.extend(self.sort.iter().map(|sort| element(sort, KeyType::Range)));
        elements
    }
}

fn bind(
    element: &KeySchemaElement,
    definitions: &[AttributeDefinition],
) -> Result<KeyAttribute, Error> {
    let name = &element.attribute_name;
    if name.is_empty() || name.len() > KEY_ATTRIBUTE_NAME_SIZE_MAX as usize {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{}' at 'keySchema.member.attributeName' failed \
             to satisfy constraint: Member must have length less than or equal to {} (length {})",
            crate::number::echo(name),
            KEY_ATTRIBUTE_NAME_SIZE_MAX,
            name.len()
        )));
    }
    let mut matching = definitions.iter().filter(|d| &d.attribute_name == name);
    let definition = matching.next().ok_or_else(|| {
        Error::validation(format!(
            "One or more parameter values were invalid: Some index key attributes are not \
             defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
            definitions
                .iter()
                .map(|d| d.attribute_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if matching.next().is_some() {
        return Err(Error::validation(format!(
            "Cannot have two attributes with the same name: {name}"
        )));
    }
    Ok(KeyAttribute {
        name: name.clone(),
        scalar_type: definition.attribute_type,
    })
}

impl fmt::Display for KeySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.partition.name, self.partition.scalar_type)?;
        if let Some(sort) = &self.sort {
            write!(f, ", {}({})", sort.name, sort.scalar_type)?;
        }
        Ok(())
    }
}

wire_names! {
    /// Which attributes an index copies.
    pub enum ProjectionType {
        /// Only the table and index keys.
        KeysOnly = "KEYS_ONLY",
        /// Keys plus `NonKeyAttributes`.
        Include = "INCLUDE",
        /// Every attribute.
        All = "ALL",
    }
}

wire_struct! {
    /// `Projection` of an index.
    pub struct Projection {
        /// KEYS_ONLY, INCLUDE or ALL.
        pub projection_type: ProjectionType,
        /// Extra attributes for INCLUDE (empty otherwise).
        pub non_key_attributes: Vec<String>,
    }
}

wire_names! {
    /// How a table is billed.
    pub enum BillingMode {
        /// Provisioned capacity (the default).
        Provisioned = "PROVISIONED",
        /// On demand.
        PayPerRequest = "PAY_PER_REQUEST",
    }
}

wire_struct! {
    /// `ProvisionedThroughput` in requests.
    pub struct ProvisionedThroughput {
        /// Read capacity units per second (≥ 1).
        pub read_capacity_units: u64,
        /// Write capacity units per second (≥ 1).
        pub write_capacity_units: u64,
    }
}

wire_struct! {
    /// `ProvisionedThroughput` in descriptions (zeros for on-demand tables).
    pub struct ProvisionedThroughputDescription {
        /// Read capacity units per second.
        pub read_capacity_units: u64,
        /// Write capacity units per second.
        pub write_capacity_units: u64,
        /// Decreases so far in the current UTC day.
        pub number_of_decreases_today: u64,
        /// Last increase.
        pub last_increase_date_time_ms: Option<u64>,
        /// Last decrease.
        pub last_decrease_date_time_ms: Option<u64>,
    }
}

wire_struct! {
    /// `BillingModeSummary`.
    pub struct BillingModeSummary {
        /// Current billing mode.
        pub billing_mode: BillingMode,
        /// Last switch to on-demand.
        pub last_update_to_pay_per_request_date_time_ms: Option<u64>,
    }
}

wire_struct! {
    /// `OnDemandThroughput`: optional caps for on-demand tables and indexes.
    pub struct OnDemandThroughput {
        /// Read request units per second cap.
        pub max_read_request_units: Option<i64>,
        /// Write request units per second cap.
        pub max_write_request_units: Option<i64>,
    }
}

wire_struct! {
    /// `WarmThroughput`: pre-warmed capacity.
    pub struct WarmThroughput {
        /// Read units per second.
        pub read_units_per_second: Option<i64>,
        /// Write units per second.
        pub write_units_per_second: Option<i64>,
    }
}

wire_names! {
    /// What a stream record contains.
    pub enum StreamViewType {
        /// Key attributes only.
        KeysOnly = "KEYS_ONLY",
        /// The item after the change.
        NewImage = "NEW_IMAGE",
        /// The item before the change.
        OldImage = "OLD_IMAGE",
        /// Both images.
        NewAndOldImages = "NEW_AND_OLD_IMAGES",
    }
}

wire_struct! {
    /// `StreamSpecification`.
    pub struct StreamSpecification {
        /// Whether the stream is on.
        pub stream_enabled: bool,
        /// Required when enabling.
        pub stream_view_type: Option<StreamViewType>,
    }
}

wire_struct! {
    /// `SSESpecification` in requests.
    pub struct SseSpecification {
        /// Whether server-side encryption with a KMS key is requested.
        pub enabled: Option<bool>,
        /// `KMS` (or absent).
        pub sse_type: Option<String>,
        /// KMS key id, ARN or alias.
        pub kms_master_key_id: Option<String>,
    }
}

wire_struct! {
    /// `SSEDescription` (absent with default encryption).
    pub struct SseDescription {
        /// ENABLING, ENABLED, DISABLING, DISABLED, UPDATING.
        pub status: String,
        /// `KMS`.
        pub sse_type: Option<String>,
        /// KMS key ARN.
        pub kms_master_key_arn: Option<String>,
    }
}

wire_names! {
    /// Storage class of a table.
    pub enum TableClass {
        /// Standard.
        Standard = "STANDARD",
        /// Standard-Infrequent Access.
        StandardInfrequentAccess = "STANDARD_INFREQUENT_ACCESS",
    }
}

wire_struct! {
    /// `TableClassSummary`.
    pub struct TableClassSummary {
        /// Current class.
        pub table_class: TableClass,
        /// Last change.
        pub last_update_date_time_ms: Option<u64>,
    }
}

wire_names! {
    /// `TableStatus`.
    pub enum TableStatus {
        /// Being created.
        Creating = "CREATING",
        /// Being updated.
        Updating = "UPDATING",
        /// Being deleted.
        Deleting = "DELETING",
        /// Ready.
        Active = "ACTIVE",
        /// The KMS key is inaccessible.
        InaccessibleEncryptionCredentials = "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
        /// Being archived.
        Archiving = "ARCHIVING",
        /// Archived.
        Archived = "ARCHIVED",
    }
}

wire_names! {
    /// `IndexStatus` of a GSI.
    pub enum IndexStatus {
        /// Being created (and possibly backfilled).
        Creating = "CREATING",
        /// Being updated.
        Updating = "UPDATING",
        /// Being deleted.
        Deleting = "DELETING",
        /// Ready.
        Active = "ACTIVE",
    }
}

wire_struct! {
    /// `LocalSecondaryIndex` in CreateTable.
    pub struct LocalSecondaryIndex {
        /// Index name (unique per table across LSIs and GSIs).
        pub index_name: String,
        /// Same HASH as the table, a different RANGE.
        pub key_schema: Vec<KeySchemaElement>,
        /// Projected attributes.
        pub projection: Projection,
    }
}

wire_struct! {
    /// `GlobalSecondaryIndex` in CreateTable and UpdateTable's Create action.
    pub struct GlobalSecondaryIndex {
        /// Index name.
        pub index_name: String,
        /// HASH (up to 4) then RANGE (up to 4) attributes.
        pub key_schema: Vec<KeySchemaElement>,
        /// Projected attributes.
        pub projection: Projection,
        /// Capacity for provisioned tables.
        pub provisioned_throughput: Option<ProvisionedThroughput>,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Pre-warmed capacity.
        pub warm_throughput: Option<WarmThroughput>,
    }
}

wire_struct! {
    /// An LSI in a `TableDescription` (no status).
    pub struct LocalSecondaryIndexDescription {
        /// Index name.
        pub index_name: String,
        /// Key schema.
        pub key_schema: Vec<KeySchemaElement>,
        /// Projection.
        pub projection: Projection,
        /// Size estimate.
        pub index_size_bytes: u64,
        /// Item count estimate.
        pub item_count: u64,
        /// `<table arn>/index/<name>`.
        pub index_arn: String,
    }
}

wire_struct! {
    /// A GSI in a `TableDescription`.
    pub struct GlobalSecondaryIndexDescription {
        /// Index name.
        pub index_name: String,
        /// Key schema.
        pub key_schema: Vec<KeySchemaElement>,
        /// Projection.
        pub projection: Projection,
        /// CREATING, UPDATING, DELETING or ACTIVE.
        pub index_status: IndexStatus,
        /// Present only for indexes added by UpdateTable.
        pub backfilling: Option<bool>,
        /// Capacity (zeros for on-demand).
        pub provisioned_throughput: Option<ProvisionedThroughputDescription>,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Size estimate.
        pub index_size_bytes: u64,
        /// Item count estimate.
        pub item_count: u64,
        /// `<table arn>/index/<name>`.
        pub index_arn: String,
    }
}

wire_struct! {
    /// `RestoreSummary` of a restored table.
    pub struct RestoreSummary {
        /// Backup restored from.
        pub source_backup_arn: Option<String>,
        /// Table restored from.
        pub source_table_arn: Option<String>,
        /// Point in time restored.
        pub restore_date_time_ms: u64,
        /// Whether the restore is still running.
        pub restore_in_progress: bool,
    }
}

wire_struct! {
    /// `TableDescription`, as CreateTable, DescribeTable, UpdateTable and DeleteTable return it.
    /// Optional parts are absent (not empty) when DynamoDB omits them.
    pub struct TableDescription {
        /// Table name.
        pub table_name: String,
        /// `arn:aws:dynamodb:<region>:<account>:table/<name>`.
        pub table_arn: String,
        /// UUID text.
        pub table_id: String,
        /// Shoal's internal table id (first component of storage keys).
        pub shoal_table_id: TableId,
        /// Status.
        pub table_status: TableStatus,
        /// Creation time.
        pub creation_date_time_ms: u64,
        /// Key schema (absent in DeleteTable's reduced description).
        pub key_schema: Vec<KeySchemaElement>,
        /// Definitions of all key attributes of the table and its indexes.
        pub attribute_definitions: Vec<AttributeDefinition>,
        /// Capacity (zeros for on-demand tables, always present).
        pub provisioned_throughput: ProvisionedThroughputDescription,
        /// Billing mode.
        pub billing_mode_summary: Option<BillingModeSummary>,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Pre-warmed capacity.
        pub warm_throughput: Option<WarmThroughput>,
        /// Size estimate (refreshed periodically).
        pub table_size_bytes: u64,
        /// Item count estimate (refreshed periodically).
        pub item_count: u64,
        /// LSIs (empty when none; the gateway omits the field).
        pub local_secondary_indexes: Vec<LocalSecondaryIndexDescription>,
        /// GSIs (empty when none; the gateway omits the field).
        pub global_secondary_indexes: Vec<GlobalSecondaryIndexDescription>,
        /// Present only when a stream is (or was) configured.
        pub stream_specification: Option<StreamSpecification>,
        /// Current stream ARN.
        pub latest_stream_arn: Option<String>,
        /// Current stream label (ISO-8601 timestamp).
        pub latest_stream_label: Option<String>,
        /// Present only with a customer-chosen encryption.
        pub sse_description: Option<SseDescription>,
        /// Present only for restored tables.
        pub restore_summary: Option<RestoreSummary>,
        /// Present only when a class was chosen.
        pub table_class_summary: Option<TableClassSummary>,
        /// Deletion protection.
        pub deletion_protection_enabled: bool,
    }
}

wire_names! {
    /// `TimeToLiveStatus`.
    pub enum TimeToLiveStatus {
        /// Being enabled.
        Enabling = "ENABLING",
        /// Being disabled.
        Disabling = "DISABLING",
        /// On.
        Enabled = "ENABLED",
        /// Off.
        Disabled = "DISABLED",
    }
}

wire_struct! {
    /// `TimeToLiveSpecification` (UpdateTimeToLive's input and output).
    pub struct TimeToLiveSpecification {
        /// Turn TTL on or off.
        pub enabled: bool,
        /// The attribute holding epoch seconds (1–255 characters).
        pub attribute_name: String,
    }
}

wire_struct! {
    /// `TimeToLiveDescription`.
    pub struct TimeToLiveDescription {
        /// Status.
        pub time_to_live_status: TimeToLiveStatus,
        /// Attribute name (absent when DISABLED).
        pub attribute_name: Option<String>,
    }
}

wire_struct! {
    /// A resource tag.
    pub struct Tag {
        /// Key, 1–128 characters.
        pub key: String,
        /// Value, 0–256 characters.
        pub value: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(name: &str, key_type: KeyType) -> KeySchemaElement {
        KeySchemaElement {
            attribute_name: name.to_owned(),
            key_type,
        }
    }

    fn definition(name: &str, scalar_type: ScalarType) -> AttributeDefinition {
        AttributeDefinition {
            attribute_name: name.to_owned(),
            attribute_type: scalar_type,
        }
    }

    #[test]
    fn resolves_simple_and_composite_keys() {
        let definitions = [
            definition("pk", ScalarType::S),
            definition("sk", ScalarType::N),
        ];
        let simple = KeySchema::resolve(&[element("pk", KeyType::Hash)], &definitions).unwrap();
        assert_eq!(simple.partition.scalar_type, ScalarType::S);
        assert!(simple.sort.is_none());
        let composite = KeySchema::resolve(
            &[element("pk", KeyType::Hash), element("sk", KeyType::Range)],
            &definitions,
        )
        .unwrap();
        assert_eq!(composite.sort.as_ref().unwrap().scalar_type, ScalarType::N);
        assert_eq!(composite.elements().len(), 2);
        assert!(composite.contains("sk"));
        assert_eq!(composite.to_string(), "pk(S), sk(N)");
    }

    #[test]
    fn rejects_bad_key_schemas() {
        let definitions = [
            definition("pk", ScalarType::S),
            definition("sk", ScalarType::N),
        ];
        let cases: [(&[KeySchemaElement], &str); 5] = [
            (&[], "keySchema"),
            (&[element("sk", KeyType::Range)], "not a HASH"),
            (
                &[element("pk", KeyType::Hash), element("sk", KeyType::Hash)],
                "Too many hash keys",
            ),
            (
                &[element("pk", KeyType::Hash), element("pk", KeyType::Range)],
                "same name",
            ),
            (
                &[element("zz", KeyType::Hash)],
                "not defined in AttributeDefinitions",
            ),
        ];
        for (elements, fragment) in cases {
            let error = KeySchema::resolve(elements, &definitions).unwrap_err();
            assert!(
                error.message.contains(fragment),
                "{fragment}: {}",
                error.message
            );
        }
        let long = "k".repeat(256);
        let error = KeySchema::resolve(
            &[element(&long, KeyType::Hash)],
            &[definition(&long, ScalarType::S)],
        )
        .unwrap_err();
        assert!(error.message.contains("255"), "{}", error.message);
    }

    #[test]
    fn names_round_trip() {
        for mode in BillingMode::ALL {
            assert_eq!(BillingMode::parse(mode.as_str()), Some(*mode));
        }
        assert_eq!(BillingMode::parse("pay_per_request"), None);
        assert_eq!(
            StreamViewType::parse("NEW_AND_OLD_IMAGES"),
            Some(StreamViewType::NewAndOldImages)
        );
        assert_eq!(ScalarType::B.to_string(), "B");
    }
}
