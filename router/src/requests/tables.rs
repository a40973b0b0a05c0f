//! Builders of the table operations: CreateTable, DescribeTable, ListTables (one page, or
//! every name), DeleteTable, UpdateTable. They go to the metadata leader.
//!
//! Invariant: creating or deleting a table drops the client's cached route of that name,
//! so a table created again is routed by its new map.
//! Does not wait for a table to become ACTIVE: callers poll `describe_table`.

use shoal_wire::message::{
    CreateTableRequest, CreateTableResponse, DeleteTableRequest, DeleteTableResponse,
    DescribeTableRequest, DescribeTableResponse, ListTablesRequest, ListTablesResponse,
    UpdateTableRequest, UpdateTableResponse,
};
use shoal_wire::schema::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, LocalSecondaryIndex,
    ProvisionedThroughput, ScalarType, StreamSpecification, Tag,
};

use crate::client::{Client, lock};
use crate::error::Result;

/// CreateTable.
#[derive(Debug)]
pub struct CreateTable {
    client: Client,
    request: CreateTableRequest,
}

/// DescribeTable.
#[derive(Debug)]
pub struct DescribeTable {
    client: Client,
    request: DescribeTableRequest,
}

/// ListTables.
#[derive(Debug)]
pub struct ListTables {
    client: Client,
    request: ListTablesRequest,
}

/// DeleteTable.
#[derive(Debug)]
pub struct DeleteTable {
    client: Client,
    request: DeleteTableRequest,
}

/// UpdateTable.
#[derive(Debug)]
pub struct UpdateTable {
    client: Client,
    request: UpdateTableRequest,
}

impl Client {
    /// Starts a CreateTable of `table`.
    pub fn create_table(&self, table: impl Into<String>) -> CreateTable {
        CreateTable {
            client: self.clone(),
            request: CreateTableRequest {
                table_name: table.into(),
                key_schema: Vec::new(),
                attribute_definitions: Vec::new(),
                billing_mode: None,
                provisioned_throughput: None,
                local_secondary_indexes: None,
                global_secondary_indexes: None,
                stream_specification: None,
                sse_specification: None,
                tags: None,
                table_class: None,
                deletion_protection_enabled: None,
                on_demand_throughput: None,
                warm_throughput: None,
            },
        }
    }

    /// Starts a DescribeTable of `table`.
    pub fn describe_table(&self, table: impl Into<String>) -> DescribeTable {
        DescribeTable {
            client: self.clone(),
            request: DescribeTableRequest {
                table_name: table.into(),
            },
        }
    }

    /// Starts a ListTables.
    pub fn list_tables(&self) -> ListTables {
        ListTables {
            client: self.clone(),
            request: ListTablesRequest {
                exclusive_start_table_name: None,
                limit: None,
            },
        }
    }

    /// Starts a DeleteTable of `table`.
    pub fn delete_table(&self, table: impl Into<String>) -> DeleteTable {
        DeleteTable {
            client: self.clone(),
            request: DeleteTableRequest {
                table_name: table.into(),
            },
        }
    }

    /// Starts an UpdateTable of `table`.
    pub fn update_table(&self, table: impl Into<String>) -> UpdateTable {
        UpdateTable {
            client: self.clone(),
            request: UpdateTableRequest {
                table_name: table.into(),
                attribute_definitions: None,
                billing_mode: None,
                provisioned_throughput: None,
                global_secondary_index_updates: None,
                stream_specification: None,
                sse_specification: None,
                table_class: None,
                deletion_protection_enabled: None,
                replica_updates: None,
                on_demand_throughput: None,
                warm_throughput: None,
            },
        }
    }

    fn forget_table(&self, table: &str) {
        lock(&self.inner.maps).remove(table);
    }
}

impl CreateTable {
    fn key(mut self, name: String, scalar_type: ScalarType, key_type: KeyType) -> Self {
        self.request.key_schema.push(KeySchemaElement {
            attribute_name: name.clone(),
            key_type,
        });
        self.request
            .attribute_definitions
            .push(AttributeDefinition {
                attribute_name: name,
                attribute_type: scalar_type,
            });
        self
    }

    /// The partition (HASH) key and its type; also defines the attribute.
    pub fn partition_key(self, name: impl Into<String>, scalar_type: ScalarType) -> Self {
        self.key(name.into(), scalar_type, KeyType::Hash)
    }

    /// The sort (RANGE) key and its type; also defines the attribute.
    pub fn sort_key(self, name: impl Into<String>, scalar_type: ScalarType) -> Self {
        self.key(name.into(), scalar_type, KeyType::Range)
    }

    /// Adds one `AttributeDefinition` (for index keys).
    pub fn attribute_definition(
        mut self,
        name: impl Into<String>,
        scalar_type: ScalarType,
    ) -> Self {
        self.request
            .attribute_definitions
            .push(AttributeDefinition {
                attribute_name: name.into(),
                attribute_type: scalar_type,
            });
        self
    }

    /// `ProvisionedThroughput` (with the PROVISIONED billing mode).
    pub fn provisioned_throughput(
        mut self,
        read_capacity_units: u64,
        write_capacity_units: u64,
    ) -> Self {
        self.request.provisioned_throughput = Some(ProvisionedThroughput {
            read_capacity_units,
            write_capacity_units,
        });
        self
    }

    /// Adds a local secondary index.
    pub fn local_secondary_index(mut self, index: LocalSecondaryIndex) -> Self {
        self.request
            .local_secondary_indexes
            .get_or_insert_with(Vec::new)
            .push(index);
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.tags.get_or_insert_with(Vec::new).push(Tag {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    option_setters! {
        /// `BillingMode` (PROVISIONED, the default, needs a throughput).
        billing_mode: BillingMode,
        /// `StreamSpecification`.
        stream_specification: StreamSpecification,
        /// `DeletionProtectionEnabled`.
        deletion_protection_enabled: bool,
    }
    request_access!(CreateTableRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<CreateTableResponse> {
        let table = self.request.table_name.clone();
        let answer = self.client.send_control(self.request).await;
        self.client.forget_table(&table);
        answer
    }
}

impl DescribeTable {
    request_access!(DescribeTableRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<DescribeTableResponse> {
        self.client.send_control(self.request).await
    }
}

impl ListTables {
    option_setters! {
        /// `ExclusiveStartTableName`: list names after this one.
        exclusive_start_table_name: String,
    }
    request_access!(ListTablesRequest);

    /// `Limit`: most names per page (1..=100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.request.limit = Some(limit);
        self
    }

    /// Sends the request: one page of names.
    pub async fn send(self) -> Result<ListTablesResponse> {
        self.client.send_control(self.request).await
    }

    /// Every table name, following `LastEvaluatedTableName`.
    pub async fn all_names(self) -> Result<Vec<String>> {
        /// Pages of 100 names: this bounds a listing at 100 000 tables.
        const PAGES_MAX: usize = 1000;
        let mut names = Vec::new();
        let mut request = self.request;
        for _ in 0..PAGES_MAX {
            let page = self.client.send_control(request.clone()).await?;
            names.extend(page.table_names);
            match page.last_evaluated_table_name {
                Some(last) => request.exclusive_start_table_name = Some(last),
                None => break,
            }
        }
        Ok(names)
    }
}

impl DeleteTable {
    request_access!(DeleteTableRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<DeleteTableResponse> {
        let table = self.request.table_name.clone();
        let answer = self.client.send_control(self.request).await;
        self.client.forget_table(&table);
        answer
    }
}

impl UpdateTable {
    option_setters! {
        /// `BillingMode`.
        billing_mode: BillingMode,
        /// `StreamSpecification`.
        stream_specification: StreamSpecification,
        /// `DeletionProtectionEnabled`.
        deletion_protection_enabled: bool,
    }

    /// `ProvisionedThroughput`.
    pub fn provisioned_throughput(
        mut self,
        read_capacity_units: u64,
        write_capacity_units: u64,
    ) -> Self {
        self.request.provisioned_throughput = Some(ProvisionedThroughput {
            read_capacity_units,
            write_capacity_units,
        });
        self
    }

    request_access!(UpdateTableRequest);

    /// Sends the request.
    pub async fn send(self) -> Result<UpdateTableResponse> {
        self.client.send_control(self.request).await
    }
}
