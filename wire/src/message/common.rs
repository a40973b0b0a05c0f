//! Parameters and results shared by many operations (dynamodb-semantics.md §5, §8.7):
//! expression parameters, return options, consumed capacity, item collection metrics, the
//! legacy condition shapes and transaction cancellation reasons.
//!
//! Invariant: optional request parameters are `Option`s so that "absent" and "empty" stay
//! distinguishable (DynamoDB rejects an empty `ExpressionAttributeNames` but accepts it
//! absent). Capacity travels in thousandths of a unit (`_milli`), never as floating point.
//! Does not validate parameter combinations; the node does.

use std::collections::BTreeMap;

use crate::value::{AttributeValue, Item};

/// `ExpressionAttributeNames`: `#placeholder` → attribute name.
pub type ExpressionAttributeNames = BTreeMap<String, String>;
/// `ExpressionAttributeValues`: `:placeholder` → value.
pub type ExpressionAttributeValues = BTreeMap<String, AttributeValue>;

wire_names! {
    /// `ReturnConsumedCapacity`.
    pub enum ReturnConsumedCapacity {
        /// No capacity in the response (default).
        None = "NONE",
        /// Totals per table.
        Total = "TOTAL",
        /// Totals plus per-index detail.
        Indexes = "INDEXES",
    }
}

wire_names! {
    /// `ReturnItemCollectionMetrics`.
    pub enum ReturnItemCollectionMetrics {
        /// No metrics (default).
        None = "NONE",
        /// Item collection size estimates (tables with LSIs).
        Size = "SIZE",
    }
}

wire_names! {
    /// `ReturnValues` of PutItem, UpdateItem and DeleteItem.
    pub enum ReturnValue {
        /// Nothing (default).
        None = "NONE",
        /// The whole item before the write.
        AllOld = "ALL_OLD",
        /// Old values of the touched attributes.
        UpdatedOld = "UPDATED_OLD",
        /// The whole item after the write.
        AllNew = "ALL_NEW",
        /// New values of the touched attributes.
        UpdatedNew = "UPDATED_NEW",
    }
}

wire_names! {
    /// `ReturnValuesOnConditionCheckFailure`.
    pub enum ReturnValuesOnConditionCheckFailure {
        /// Nothing (default).
        None = "NONE",
        /// The existing item in the error.
        AllOld = "ALL_OLD",
    }
}

wire_names! {
    /// `Select` of Query and Scan.
    pub enum Select {
        /// Every attribute (table default).
        AllAttributes = "ALL_ATTRIBUTES",
        /// Every projected attribute (index default).
        AllProjectedAttributes = "ALL_PROJECTED_ATTRIBUTES",
        /// The attributes named by the projection.
        SpecificAttributes = "SPECIFIC_ATTRIBUTES",
        /// Only counts.
        Count = "COUNT",
    }
}

wire_names! {
    /// Legacy `ConditionalOperator`.
    pub enum ConditionalOperator {
        /// All conditions must hold (default).
        And = "AND",
        /// Any condition may hold.
        Or = "OR",
    }
}

wire_names! {
    /// Legacy `ComparisonOperator`.
    pub enum ComparisonOperator {
        /// `EQ`
        Eq = "EQ",
        /// `NE`
        Ne = "NE",
        /// `LE`
        Le = "LE",
        /// `LT`
        Lt = "LT",
        /// `GE`
        Ge = "GE",
        /// `GT`
        Gt = "GT",
        /// `NOT_NULL` (attribute exists)
        NotNull = "NOT_NULL",
        /// `NULL` (attribute does not exist)
        Null = "NULL",
        /// `CONTAINS`
        Contains = "CONTAINS",
        /// `NOT_CONTAINS`
        NotContains = "NOT_CONTAINS",
        /// `BEGINS_WITH`
        BeginsWith = "BEGINS_WITH",
        /// `IN`
        In = "IN",
        /// `BETWEEN`
        Between = "BETWEEN",
    }
}

wire_names! {
    /// Legacy `AttributeUpdates` action.
    pub enum AttributeAction {
        /// Set the value.
        Put = "PUT",
        /// Add to a number or set (or append to a list).
        Add = "ADD",
        /// Remove the attribute, or elements of a set.
        Delete = "DELETE",
    }
}

wire_struct! {
    /// Legacy `Condition` (`KeyConditions`, `QueryFilter`, `ScanFilter`).
    pub struct Condition {
        /// The operator.
        pub comparison_operator: ComparisonOperator,
        /// Its arguments (absent for NULL / NOT_NULL).
        pub attribute_value_list: Option<Vec<AttributeValue>>,
    }
}

wire_struct! {
    /// Legacy `ExpectedAttributeValue` (`Expected`): either `Value`/`Exists` or
    /// `ComparisonOperator`/`AttributeValueList`.
    pub struct ExpectedAttributeValue {
        /// Expected value.
        pub value: Option<AttributeValue>,
        /// Whether the attribute must exist.
        pub exists: Option<bool>,
        /// Operator form.
        pub comparison_operator: Option<ComparisonOperator>,
        /// Operator arguments.
        pub attribute_value_list: Option<Vec<AttributeValue>>,
    }
}

wire_struct! {
    /// Legacy `AttributeValueUpdate` (`AttributeUpdates`).
    pub struct AttributeValueUpdate {
        /// PUT (default), ADD or DELETE.
        pub action: Option<AttributeAction>,
        /// The operand (optional for DELETE).
        pub value: Option<AttributeValue>,
    }
}

wire_struct! {
    /// Capacity consumed by a table or one index.
    pub struct Capacity {
        /// Total units, thousandths.
        pub capacity_units_milli: u64,
        /// Read units, thousandths.
        pub read_capacity_units_milli: Option<u64>,
        /// Write units, thousandths.
        pub write_capacity_units_milli: Option<u64>,
    }
}

wire_struct! {
    /// `ConsumedCapacity` of one table.
    pub struct ConsumedCapacity {
        /// The table.
        pub table_name: String,
        /// Total units (table + indexes), thousandths.
        pub capacity_units_milli: u64,
        /// Read units, thousandths.
        pub read_capacity_units_milli: Option<u64>,
        /// Write units, thousandths.
        pub write_capacity_units_milli: Option<u64>,
        /// Table part (with `INDEXES`).
        pub table: Option<Capacity>,
        /// Per-LSI parts (with `INDEXES`).
        pub local_secondary_indexes: BTreeMap<String, Capacity>,
        /// Per-GSI parts (with `INDEXES`).
        pub global_secondary_indexes: BTreeMap<String, Capacity>,
    }
}

wire_struct! {
    /// `ItemCollectionMetrics` (tables with LSIs, `ReturnItemCollectionMetrics=SIZE`).
    pub struct ItemCollectionMetrics {
        /// The partition-key value of the collection.
        pub item_collection_key: Item,
        /// Lower size estimate, thousandths of a GB.
        pub size_estimate_lower_gb_milli: u64,
        /// Upper size estimate, thousandths of a GB.
        pub size_estimate_upper_gb_milli: u64,
    }
}

wire_names! {
    /// `CancellationReason.Code` of a cancelled transaction.
    pub enum CancellationCode {
        /// This action was fine.
        None = "None",
        /// Its condition failed.
        ConditionalCheckFailed = "ConditionalCheckFailed",
        /// An LSI item collection would exceed 10 GB.
        ItemCollectionSizeLimitExceeded = "ItemCollectionSizeLimitExceeded",
        /// Another transaction or write holds the item.
        TransactionConflict = "TransactionConflict",
        /// Capacity exhausted.
        ProvisionedThroughputExceeded = "ProvisionedThroughputExceeded",
        /// Throttled.
        ThrottlingError = "ThrottlingError",
        /// A data problem detected for this action.
        ValidationError = "ValidationError",
    }
}

wire_struct! {
    /// One `CancellationReason`, in request order.
    pub struct CancellationReason {
        /// Why (or `None`).
        pub code: CancellationCode,
        /// Message (absent for `None`).
        pub message: Option<String>,
        /// The existing item, with `ReturnValuesOnConditionCheckFailure=ALL_OLD`.
        pub item: Option<Item>,
    }
}
