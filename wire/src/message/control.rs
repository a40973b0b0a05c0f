//! Control-plane messages (dynamodb-semantics.md §6): tables, TTL, tags, backups and
//! point-in-time recovery.
//!
//! Invariant: requests carry the parameters §6 names, optional ones as `Option` (absent and
//! empty differ: "No change at all" in UpdateTable is judged on presence); responses carry
//! the descriptions from `schema`.
//! Does not validate requests or implement any state machine (table status, backups).

use crate::schema::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, LocalSecondaryIndex,
    OnDemandThroughput, Projection, ProvisionedThroughput, SseDescription, SseSpecification,
    StreamSpecification, TableClass, TableDescription, Tag, TimeToLiveDescription,
    TimeToLiveSpecification, WarmThroughput,
};

wire_struct! {
    /// CreateTable.
    pub struct CreateTableRequest {
        /// Table name.
        pub table_name: String,
        /// HASH then optional RANGE.
        pub key_schema: Vec<KeySchemaElement>,
        /// Types of every key attribute of the table and its indexes.
        pub attribute_definitions: Vec<AttributeDefinition>,
        /// PROVISIONED (default) or PAY_PER_REQUEST.
        pub billing_mode: Option<BillingMode>,
        /// Required with PROVISIONED, forbidden with PAY_PER_REQUEST.
        pub provisioned_throughput: Option<ProvisionedThroughput>,
        /// Up to 5 LSIs.
        pub local_secondary_indexes: Option<Vec<LocalSecondaryIndex>>,
        /// Up to 20 GSIs.
        pub global_secondary_indexes: Option<Vec<GlobalSecondaryIndex>>,
        /// Stream settings.
        pub stream_specification: Option<StreamSpecification>,
        /// Encryption settings.
        pub sse_specification: Option<SseSpecification>,
        /// Up to 50 tags.
        pub tags: Option<Vec<Tag>>,
        /// Storage class.
        pub table_class: Option<TableClass>,
        /// Deletion protection.
        pub deletion_protection_enabled: Option<bool>,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Pre-warmed capacity.
        pub warm_throughput: Option<WarmThroughput>,
    }
}

wire_struct! {
    /// CreateTable's result (status CREATING, or ACTIVE at once).
    pub struct CreateTableResponse {
        /// The new table.
        pub table_description: TableDescription,
    }
}

wire_struct! {
    /// DeleteTable.
    pub struct DeleteTableRequest {
        /// Table name or ARN.
        pub table_name: String,
    }
}

wire_struct! {
    /// DeleteTable's result: a reduced description with status DELETING.
    pub struct DeleteTableResponse {
        /// The table being deleted.
        pub table_description: TableDescription,
    }
}

wire_struct! {
    /// DescribeTable.
    pub struct DescribeTableRequest {
        /// Table name or ARN.
        pub table_name: String,
    }
}

wire_struct! {
    /// DescribeTable's result.
    pub struct DescribeTableResponse {
        /// The table.
        pub table: TableDescription,
    }
}

wire_struct! {
    /// ListTables.
    pub struct ListTablesRequest {
        /// Start after this name.
        pub exclusive_start_table_name: Option<String>,
        /// 1..=100, default 100.
        pub limit: Option<u32>,
    }
}

wire_struct! {
    /// ListTables' page, names in a stable sorted order.
    pub struct ListTablesResponse {
        /// At most 100 names.
        pub table_names: Vec<String>,
        /// Present only when more may follow.
        pub last_evaluated_table_name: Option<String>,
    }
}

wire_struct! {
    /// UpdateTable's GSI `Update` action.
    pub struct UpdateGlobalSecondaryIndexAction {
        /// The index.
        pub index_name: String,
        /// New capacity.
        pub provisioned_throughput: Option<ProvisionedThroughput>,
        /// New on-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// New pre-warmed capacity.
        pub warm_throughput: Option<WarmThroughput>,
    }
}

wire_struct! {
    /// UpdateTable's GSI `Delete` action.
    pub struct DeleteGlobalSecondaryIndexAction {
        /// The index.
        pub index_name: String,
    }
}

wire_struct! {
    /// One element of `GlobalSecondaryIndexUpdates`. DynamoDB requires exactly one action per
    /// element; the shape keeps all three optional so the node can reject the others.
    pub struct GlobalSecondaryIndexUpdate {
        /// Create an index.
        pub create: Option<GlobalSecondaryIndex>,
        /// Change an index's capacity.
        pub update: Option<UpdateGlobalSecondaryIndexAction>,
        /// Delete an index.
        pub delete: Option<DeleteGlobalSecondaryIndexAction>,
    }
}

wire_struct! {
    /// One element of `ReplicaUpdates` (global tables).
    pub struct ReplicaUpdate {
        /// Add a replica in this region.
        pub create_region_name: Option<String>,
        /// Remove the replica in this region.
        pub delete_region_name: Option<String>,
    }
}

wire_struct! {
    /// UpdateTable.
    pub struct UpdateTableRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// Definitions for new GSI keys.
        pub attribute_definitions: Option<Vec<AttributeDefinition>>,
        /// Switch billing mode.
        pub billing_mode: Option<BillingMode>,
        /// New capacity.
        pub provisioned_throughput: Option<ProvisionedThroughput>,
        /// GSI create / update / delete (one create or delete per call).
        pub global_secondary_index_updates: Option<Vec<GlobalSecondaryIndexUpdate>>,
        /// Enable or disable the stream.
        pub stream_specification: Option<StreamSpecification>,
        /// Encryption settings.
        pub sse_specification: Option<SseSpecification>,
        /// Storage class.
        pub table_class: Option<TableClass>,
        /// Deletion protection.
        pub deletion_protection_enabled: Option<bool>,
        /// Global-table replicas.
        pub replica_updates: Option<Vec<ReplicaUpdate>>,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Pre-warmed capacity.
        pub warm_throughput: Option<WarmThroughput>,
    }
}

wire_struct! {
    /// UpdateTable's result.
    pub struct UpdateTableResponse {
        /// The table after the change was accepted.
        pub table_description: TableDescription,
    }
}

wire_struct! {
    /// DescribeTimeToLive.
    pub struct DescribeTimeToLiveRequest {
        /// Table name.
        pub table_name: String,
    }
}

wire_struct! {
    /// DescribeTimeToLive's result.
    pub struct DescribeTimeToLiveResponse {
        /// Status and attribute.
        pub time_to_live_description: TimeToLiveDescription,
    }
}

wire_struct! {
    /// UpdateTimeToLive.
    pub struct UpdateTimeToLiveRequest {
        /// Table name.
        pub table_name: String,
        /// Enable or disable, and the attribute.
        pub time_to_live_specification: TimeToLiveSpecification,
    }
}

wire_struct! {
    /// UpdateTimeToLive's result: the specification echoed.
    pub struct UpdateTimeToLiveResponse {
        /// As requested.
        pub time_to_live_specification: TimeToLiveSpecification,
    }
}

wire_struct! {
    /// TagResource.
    pub struct TagResourceRequest {
        /// Table ARN.
        pub resource_arn: String,
        /// Tags to add or overwrite.
        pub tags: Vec<Tag>,
    }
}

wire_struct! {
    /// TagResource's (empty) result.
    pub struct TagResourceResponse {}
}

wire_struct! {
    /// UntagResource.
    pub struct UntagResourceRequest {
        /// Table ARN.
        pub resource_arn: String,
        /// Keys to remove.
        pub tag_keys: Vec<String>,
    }
}

wire_struct! {
    /// UntagResource's (empty) result.
    pub struct UntagResourceResponse {}
}

wire_struct! {
    /// ListTagsOfResource.
    pub struct ListTagsOfResourceRequest {
        /// Table ARN.
        pub resource_arn: String,
        /// Continuation token.
        pub next_token: Option<String>,
    }
}

wire_struct! {
    /// ListTagsOfResource's page.
    pub struct ListTagsOfResourceResponse {
        /// The tags.
        pub tags: Vec<Tag>,
        /// Continuation token.
        pub next_token: Option<String>,
    }
}

wire_names! {
    /// `BackupStatus`.
    pub enum BackupStatus {
        /// Being created.
        Creating = "CREATING",
        /// Deleted.
        Deleted = "DELETED",
        /// Ready to restore.
        Available = "AVAILABLE",
    }
}

wire_names! {
    /// `BackupType`.
    pub enum BackupType {
        /// Created by a user.
        User = "USER",
        /// Created by the system (table deletion).
        System = "SYSTEM",
        /// Created by AWS Backup.
        AwsBackup = "AWS_BACKUP",
    }
}

wire_names! {
    /// `BackupType` filter of ListBackups.
    pub enum BackupTypeFilter {
        /// User backups.
        User = "USER",
        /// System backups.
        System = "SYSTEM",
        /// AWS Backup backups.
        AwsBackup = "AWS_BACKUP",
        /// All of them.
        All = "ALL",
    }
}

wire_struct! {
    /// `BackupDetails`.
    pub struct BackupDetails {
        /// Backup ARN.
        pub backup_arn: String,
        /// Backup name.
        pub backup_name: String,
        /// Size, once known.
        pub backup_size_bytes: Option<u64>,
        /// Status.
        pub backup_status: BackupStatus,
        /// Type.
        pub backup_type: BackupType,
        /// Creation time.
        pub backup_creation_date_time_ms: u64,
        /// Expiry (system backups).
        pub backup_expiry_date_time_ms: Option<u64>,
    }
}

wire_struct! {
    /// `BackupSummary` in ListBackups.
    pub struct BackupSummary {
        /// Source table name.
        pub table_name: String,
        /// Source table id.
        pub table_id: String,
        /// Source table ARN.
        pub table_arn: String,
        /// Backup ARN.
        pub backup_arn: String,
        /// Backup name.
        pub backup_name: String,
        /// Creation time.
        pub backup_creation_date_time_ms: u64,
        /// Expiry.
        pub backup_expiry_date_time_ms: Option<u64>,
        /// Status.
        pub backup_status: BackupStatus,
        /// Type.
        pub backup_type: BackupType,
        /// Size.
        pub backup_size_bytes: Option<u64>,
    }
}

wire_struct! {
    /// `SourceTableDetails` of a backup.
    pub struct SourceTableDetails {
        /// Table name.
        pub table_name: String,
        /// Table id.
        pub table_id: String,
        /// Table ARN.
        pub table_arn: Option<String>,
        /// Size at backup time.
        pub table_size_bytes: Option<u64>,
        /// Key schema.
        pub key_schema: Vec<KeySchemaElement>,
        /// Table creation time.
        pub table_creation_date_time_ms: u64,
        /// Capacity at backup time.
        pub provisioned_throughput: ProvisionedThroughput,
        /// On-demand caps.
        pub on_demand_throughput: Option<OnDemandThroughput>,
        /// Item count at backup time.
        pub item_count: Option<u64>,
        /// Billing mode.
        pub billing_mode: Option<BillingMode>,
    }
}

wire_struct! {
    /// An index as a backup records it.
    pub struct IndexInfo {
        /// Index name.
        pub index_name: String,
        /// Key schema.
        pub key_schema: Vec<KeySchemaElement>,
        /// Projection.
        pub projection: Projection,
        /// Capacity (GSIs).
        pub provisioned_throughput: Option<ProvisionedThroughput>,
    }
}

wire_struct! {
    /// `SourceTableFeatureDetails` of a backup.
    pub struct SourceTableFeatureDetails {
        /// LSIs.
        pub local_secondary_indexes: Vec<IndexInfo>,
        /// GSIs.
        pub global_secondary_indexes: Vec<IndexInfo>,
        /// Stream settings.
        pub stream_description: Option<StreamSpecification>,
        /// TTL settings.
        pub time_to_live_description: Option<TimeToLiveDescription>,
        /// Encryption.
        pub sse_description: Option<SseDescription>,
    }
}

wire_struct! {
    /// `BackupDescription`.
    pub struct BackupDescription {
        /// The backup.
        pub backup_details: BackupDetails,
        /// The table it came from.
        pub source_table_details: SourceTableDetails,
        /// The table's features.
        pub source_table_feature_details: Option<SourceTableFeatureDetails>,
    }
}

wire_struct! {
    /// CreateBackup.
    pub struct CreateBackupRequest {
        /// Table name or ARN.
        pub table_name: String,
        /// Backup name (3–255, `[a-zA-Z0-9_.-]+`).
        pub backup_name: String,
    }
}

wire_struct! {
    /// CreateBackup's result.
    pub struct CreateBackupResponse {
        /// The new backup.
        pub backup_details: BackupDetails,
    }
}

wire_struct! {
    /// DescribeBackup.
    pub struct DescribeBackupRequest {
        /// Backup ARN.
        pub backup_arn: String,
    }
}

wire_struct! {
    /// DescribeBackup's result.
    pub struct DescribeBackupResponse {
        /// The backup.
        pub backup_description: BackupDescription,
    }
}

wire_struct! {
    /// ListBackups.
    pub struct ListBackupsRequest {
        /// Only this table's backups.
        pub table_name: Option<String>,
        /// Page size.
        pub limit: Option<u32>,
        /// Created at or after.
        pub time_range_lower_bound_ms: Option<u64>,
        /// Created before.
        pub time_range_upper_bound_ms: Option<u64>,
        /// Start after this backup.
        pub exclusive_start_backup_arn: Option<String>,
        /// Type filter.
        pub backup_type: Option<BackupTypeFilter>,
    }
}

wire_struct! {
    /// ListBackups' page.
    pub struct ListBackupsResponse {
        /// The backups.
        pub backup_summaries: Vec<BackupSummary>,
        /// Continuation.
        pub last_evaluated_backup_arn: Option<String>,
    }
}

wire_struct! {
    /// DeleteBackup.
    pub struct DeleteBackupRequest {
        /// Backup ARN.
        pub backup_arn: String,
    }
}

wire_struct! {
    /// DeleteBackup's result.
    pub struct DeleteBackupResponse {
        /// The deleted backup.
        pub backup_description: BackupDescription,
    }
}

wire_struct! {
    /// RestoreTableFromBackup: restore into a new table.
    pub struct RestoreTableFromBackupRequest {
        /// The new table's name (must not exist).
        pub target_table_name: String,
        /// Backup ARN.
        pub backup_arn: String,
        /// Billing override.
        pub billing_mode_override: Option<BillingMode>,
        /// GSI override.
        pub global_secondary_index_override: Option<Vec<GlobalSecondaryIndex>>,
        /// LSI override.
        pub local_secondary_index_override: Option<Vec<LocalSecondaryIndex>>,
        /// Capacity override.
        pub provisioned_throughput_override: Option<ProvisionedThroughput>,
        /// On-demand override.
        pub on_demand_throughput_override: Option<OnDemandThroughput>,
        /// Encryption override.
        pub sse_specification_override: Option<SseSpecification>,
    }
}

wire_struct! {
    /// RestoreTableFromBackup's result.
    pub struct RestoreTableFromBackupResponse {
        /// The new table (CREATING).
        pub table_description: TableDescription,
    }
}

wire_names! {
    /// `ContinuousBackupsStatus` and `PointInTimeRecoveryStatus`.
    pub enum BackupFeatureStatus {
        /// On.
        Enabled = "ENABLED",
        /// Off.
        Disabled = "DISABLED",
    }
}

wire_struct! {
    /// `PointInTimeRecoverySpecification`.
    pub struct PointInTimeRecoverySpecification {
        /// Turn PITR on or off.
        pub point_in_time_recovery_enabled: bool,
        /// Window, 1–35 days.
        pub recovery_period_in_days: Option<u32>,
    }
}

wire_struct! {
    /// `PointInTimeRecoveryDescription`.
    pub struct PointInTimeRecoveryDescription {
        /// Status.
        pub point_in_time_recovery_status: BackupFeatureStatus,
        /// Window in days.
        pub recovery_period_in_days: Option<u32>,
        /// Earliest restorable time.
        pub earliest_restorable_date_time_ms: Option<u64>,
        /// Latest restorable time (about now − 5 minutes).
        pub latest_restorable_date_time_ms: Option<u64>,
    }
}

wire_struct! {
    /// `ContinuousBackupsDescription`.
    pub struct ContinuousBackupsDescription {
        /// Continuous backups status.
        pub continuous_backups_status: BackupFeatureStatus,
        /// PITR detail.
        pub point_in_time_recovery_description: Option<PointInTimeRecoveryDescription>,
    }
}

wire_struct! {
    /// UpdateContinuousBackups.
    pub struct UpdateContinuousBackupsRequest {
        /// Table name.
        pub table_name: String,
        /// PITR settings.
        pub point_in_time_recovery_specification: PointInTimeRecoverySpecification,
    }
}

wire_struct! {
    /// UpdateContinuousBackups' result.
    pub struct UpdateContinuousBackupsResponse {
        /// Settings after the change.
        pub continuous_backups_description: ContinuousBackupsDescription,
    }
}

wire_struct! {
    /// DescribeContinuousBackups.
    pub struct DescribeContinuousBackupsRequest {
        /// Table name.
        pub table_name: String,
    }
}

wire_struct! {
    /// DescribeContinuousBackups' result.
    pub struct DescribeContinuousBackupsResponse {
        /// Current settings.
        pub continuous_backups_description: ContinuousBackupsDescription,
    }
}

wire_struct! {
    /// RestoreTableToPointInTime: restore a table's past state into a new table.
    pub struct RestoreTableToPointInTimeRequest {
        /// Source table name (or the ARN below).
        pub source_table_name: Option<String>,
        /// Source table ARN.
        pub source_table_arn: Option<String>,
        /// The new table's name.
        pub target_table_name: String,
        /// The time to restore (or the latest below).
        pub restore_date_time_ms: Option<u64>,
        /// Restore the latest restorable time.
        pub use_latest_restorable_time: Option<bool>,
        /// Billing override.
        pub billing_mode_override: Option<BillingMode>,
        /// GSI override.
        pub global_secondary_index_override: Option<Vec<GlobalSecondaryIndex>>,
        /// LSI override.
        pub local_secondary_index_override: Option<Vec<LocalSecondaryIndex>>,
        /// Capacity override.
        pub provisioned_throughput_override: Option<ProvisionedThroughput>,
        /// On-demand override.
        pub on_demand_throughput_override: Option<OnDemandThroughput>,
        /// Encryption override.
        pub sse_specification_override: Option<SseSpecification>,
    }
}

wire_struct! {
    /// RestoreTableToPointInTime's result.
    pub struct RestoreTableToPointInTimeResponse {
        /// The new table (CREATING).
        pub table_description: TableDescription,
    }
}
