//! The error kinds that cross the network, each mapped once to its DynamoDB name, HTTP status
//! and retryability (dynamodb-semantics.md §4), plus Shoal's routing kinds (`WrongShard`,
//! `NotLeader { hint }`) and `NotSupportedYet`.
//!
//! Invariant: kinds are stable and each has a fixed wire code ([`ErrorKind::code`]) that is
//! never reused or renumbered; messages may evolve. Messages carry the offending value and the
//! limit where there is one.
//! Does not format HTTP bodies (the gateway does, from [`ErrorKind::amz_type`] and the
//! message) and does not carry per-kind payloads such as cancellation reasons or a partition
//! map entry: those travel beside the error in `message::ErrorReply`.

use std::fmt;

use crate::cluster::ReplicaLocation;
use crate::number::NumberError;

/// What went wrong, as the client must react to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Any parameter, expression, type, size or limit violation.
    Validation,
    /// The request could not be parsed into the operation's shape.
    Serialization,
    /// The table, index, stream, backup or resource does not exist (or is not visible yet).
    ResourceNotFound,
    /// The resource exists or is busy (CreateTable on an existing name, DeleteTable while
    /// CREATING...).
    ResourceInUse,
    /// A condition (ConditionExpression or Expected) evaluated to false.
    ConditionalCheckFailed,
    /// A transaction was cancelled; reasons travel in the error reply.
    TransactionCanceled,
    /// A single-item write collided with an in-flight transaction.
    TransactionConflict,
    /// A TransactWriteItems with the same ClientRequestToken is still running.
    TransactionInProgress,
    /// A ClientRequestToken was reused with different parameters.
    IdempotentParameterMismatch,
    /// Provisioned capacity of a table or index is exhausted.
    ProvisionedThroughputExceeded,
    /// Control-plane or on-demand request-rate throttling.
    Throttling,
    /// Account-level throughput quota exceeded.
    RequestLimitExceeded,
    /// An LSI item collection would exceed 10 GB.
    ItemCollectionSizeLimitExceeded,
    /// Too many concurrent control-plane operations, indexes, tables or backups.
    LimitExceeded,
    /// A write raced with a write from another region (multi-region strong consistency).
    ReplicatedWriteConflict,
    /// Unknown operation name.
    UnknownOperation,
    /// No authentication information.
    MissingAuthenticationToken,
    /// Unknown access key or token.
    UnrecognizedClient,
    /// Bad signature, or a request date too far from the server's clock.
    InvalidSignature,
    /// Signature components missing.
    IncompleteSignature,
    /// The caller is not allowed to do this.
    AccessDenied,
    /// A server fault; the outcome of a write is unknown.
    InternalServerError,
    /// The service is temporarily unable to serve the request (HTTP 503).
    ServiceUnavailable,
    /// Streams: the shard iterator is older than 15 minutes.
    ExpiredIterator,
    /// Streams: the requested records have been trimmed.
    TrimmedDataAccess,
    /// Backups: the source table does not exist.
    TableNotFound,
    /// Backups: the restore target table already exists.
    TableAlreadyExists,
    /// Backups: the table is being created, updated or deleted.
    TableInUse,
    /// Backups: the backup does not exist.
    BackupNotFound,
    /// Backups: the backup is being created or deleted.
    BackupInUse,
    /// Backups: point-in-time recovery is not enabled.
    PointInTimeRecoveryUnavailable,
    /// Backups: the restore time is outside the recoverable window.
    InvalidRestoreTime,
    /// Backups: continuous backups are not enabled.
    ContinuousBackupsUnavailable,
    /// Shoal routing: this shard does not own the key's partition (or the client's epoch is
    /// stale). The reply carries the fresh partition-map entry when the shard knows it.
    WrongShard,
    /// Shoal routing: this replica does not lead the partition; `hint` names the leader it
    /// believes in. The reply carries the fresh partition-map entry when known.
    NotLeader {
        /// The replica believed to lead, if any.
        hint: Option<ReplicaLocation>,
    },
    /// Shoal: the node understood the request but does not execute this operation yet.
    NotSupportedYet,
}

/// Namespace of DynamoDB service errors in `__type`.
pub const NAMESPACE_DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
/// Namespace of `ValidationException` in `__type`.
pub const NAMESPACE_VALIDATE: &str = "com.amazon.coral.validate";
/// Namespace of serialization and authentication errors in `__type`.
pub const NAMESPACE_SERVICE: &str = "com.amazon.coral.service";

/// Every kind once, in wire-code order (the `NotLeader` entry has no hint). Tests iterate it.
pub const ERROR_KINDS: [ErrorKind; 36] = [
    ErrorKind::Validation,
    ErrorKind::Serialization,
    ErrorKind::ResourceNotFound,
    ErrorKind::ResourceInUse,
    ErrorKind::ConditionalCheckFailed,
    ErrorKind::TransactionCanceled,
    ErrorKind::TransactionConflict,
    ErrorKind::TransactionInProgress,
    ErrorKind::IdempotentParameterMismatch,
    ErrorKind::ProvisionedThroughputExceeded,
    ErrorKind::Throttling,
    ErrorKind::RequestLimitExceeded,
    ErrorKind::ItemCollectionSizeLimitExceeded,
    ErrorKind::LimitExceeded,
    ErrorKind::ReplicatedWriteConflict,
    ErrorKind::UnknownOperation,
    ErrorKind::MissingAuthenticationToken,
    ErrorKind::UnrecognizedClient,
    ErrorKind::InvalidSignature,
    ErrorKind::IncompleteSignature,
    ErrorKind::AccessDenied,
    ErrorKind::InternalServerError,
    ErrorKind::ServiceUnavailable,
    ErrorKind::ExpiredIterator,
    ErrorKind::TrimmedDataAccess,
    ErrorKind::TableNotFound,
    ErrorKind::TableAlreadyExists,
    ErrorKind::TableInUse,
    ErrorKind::BackupNotFound,
    ErrorKind::BackupInUse,
    ErrorKind::PointInTimeRecoveryUnavailable,
    ErrorKind::InvalidRestoreTime,
    ErrorKind::ContinuousBackupsUnavailable,
    ErrorKind::WrongShard,
    ErrorKind::NotLeader { hint: None },
    ErrorKind::NotSupportedYet,
];

/// Static facts about one kind: (wire code, DynamoDB name, HTTP status, retryable).
struct KindFacts(u16, &'static str, u16, bool);

impl ErrorKind {
    fn facts(&self) -> KindFacts {
        use ErrorKind as K;
        match self {
            K::Validation => KindFacts(1, "ValidationException", 400, false),
            K::Serialization => KindFacts(2, "SerializationException", 400, false),
            K::ResourceNotFound => KindFacts(3, "ResourceNotFoundException", 400, false),
            K::ResourceInUse => KindFacts(4, "ResourceInUseException", 400, false),
            K::ConditionalCheckFailed => {
                KindFacts(5, "ConditionalCheckFailedException", 400, false)
            }
            K::TransactionCanceled => KindFacts(6, "TransactionCanceledException", 400, false),
            K::TransactionConflict => KindFacts(7, "TransactionConflictException", 400, true),
            K::TransactionInProgress => KindFacts(8, "TransactionInProgressException", 400, true),
            K::IdempotentParameterMismatch => {
                KindFacts(9, "IdempotentParameterMismatchException", 400, false)
            }
            K::ProvisionedThroughputExceeded => {
                KindFacts(10, "ProvisionedThroughputExceededException", 400, true)
            }
            K::Throttling => KindFacts(11, "ThrottlingException", 400, true),
            K::RequestLimitExceeded => KindFacts(12, "RequestLimitExceeded", 400, true),
            K::ItemCollectionSizeLimitExceeded => {
                KindFacts(13, "ItemCollectionSizeLimitExceededException", 400, true)
            }
            K::LimitExceeded => KindFacts(14, "LimitExceededException", 400, true),
            K::ReplicatedWriteConflict => {
                KindFacts(15, "ReplicatedWriteConflictException", 400, true)
            }
            K::UnknownOperation => KindFacts(16, "UnknownOperationException", 400, false),
            K::MissingAuthenticationToken => {
                KindFacts(17, "MissingAuthenticationTokenException", 400, false)
            }
            K::UnrecognizedClient => KindFacts(18, "UnrecognizedClientException", 400, false),
            K::InvalidSignature => KindFacts(19, "InvalidSignatureException", 400, false),
            K::IncompleteSignature => KindFacts(20, "IncompleteSignatureException", 400, false),
            K::AccessDenied => KindFacts(21, "AccessDeniedException", 400, false),
            K::InternalServerError => KindFacts(22, "InternalServerError", 500, true),
            K::ServiceUnavailable => KindFacts(23, "ServiceUnavailableException", 503, true),
            K::ExpiredIterator => KindFacts(24, "ExpiredIteratorException", 400, false),
            K::TrimmedDataAccess => KindFacts(25, "TrimmedDataAccessException", 400, false),
            K::TableNotFound => KindFacts(26, "TableNotFoundException", 400, false),
            K::TableAlreadyExists => KindFacts(27, "TableAlreadyExistsException", 400, false),
            K::TableInUse => KindFacts(28, "TableInUseException", 400, false),
            K::BackupNotFound => KindFacts(29, "BackupNotFoundException", 400, false),
            K::BackupInUse => KindFacts(30, "BackupInUseException", 400, false),
            K::PointInTimeRecoveryUnavailable => {
                KindFacts(31, "PointInTimeRecoveryUnavailableException", 400, false)
            }
            K::InvalidRestoreTime => KindFacts(32, "InvalidRestoreTimeException", 400, false),
            K::ContinuousBackupsUnavailable => {
                KindFacts(33, "ContinuousBackupsUnavailableException", 400, false)
            }
            // Routing kinds never reach a DynamoDB client: the client library or gateway
            // refreshes its map and retries. If one must be surfaced, it is a retryable 500.
            K::WrongShard => KindFacts(100, "InternalServerError", 500, true),
            K::NotLeader { .. } => KindFacts(101, "InternalServerError", 500, true),
            // An operation a node does not execute yet is a client-visible, permanent refusal.
            K::NotSupportedYet => KindFacts(102, "ValidationException", 400, false),
        }
    }

    /// The stable wire code of this kind (see PROTOCOL.md, "Error kinds").
    pub fn code(&self) -> u16 {
        self.facts().0
    }

    /// The kind with this wire code; `hint` fills `NotLeader`'s hint and is ignored otherwise.
    /// `None` for an unknown code.
    pub fn from_code(code: u16, hint: Option<ReplicaLocation>) -> Option<ErrorKind> {
        let kind = ERROR_KINDS.iter().find(|kind| kind.code() == code)?;
        Some(match kind {
            ErrorKind::NotLeader { .. } => ErrorKind::NotLeader { hint },
            other => *other,
        })
    }

    /// The name DynamoDB clients key on (the part of `__type` after `#`).
    pub fn dynamodb_name(&self) -> &'static str {
        self.facts().1
    }

    /// The `__type` namespace DynamoDB uses for this kind.
    pub fn namespace(&self) -> &'static str {
        match self {
            ErrorKind::Validation | ErrorKind::NotSupportedYet => NAMESPACE_VALIDATE,
            ErrorKind::Serialization
            | ErrorKind::UnknownOperation
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::UnrecognizedClient
            | ErrorKind::InvalidSignature
            | ErrorKind::IncompleteSignature
            | ErrorKind::AccessDenied => NAMESPACE_SERVICE,
            _ => NAMESPACE_DYNAMODB,
        }
    }

    /// The full `__type` value: `<namespace>#<name>`.
    pub fn amz_type(&self) -> String {
        format!("{}#{}", self.namespace(), self.dynamodb_name())
    }

    /// The HTTP status a gateway answers with.
    pub fn http_status(&self) -> u16 {
        self.facts().2
    }

    /// Whether a client may retry the same request (after a back-off, or after refreshing the
    /// partition map for the routing kinds).
    pub fn is_retryable(&self) -> bool {
        self.facts().3
    }

    /// Shoal's own name of the kind, for logs and the CLI (`WrongShard`, `NotLeader`, or the
    /// DynamoDB name).
    pub fn shoal_name(&self) -> &'static str {
        match self {
            ErrorKind::WrongShard => "WrongShard",
            ErrorKind::NotLeader { .. } => "NotLeader",
            ErrorKind::NotSupportedYet => "NotSupportedYet",
            other => other.dynamodb_name(),
        }
    }

    /// True for the routing kinds, after which the client refreshes its partition map.
    pub fn is_routing(&self) -> bool {
        matches!(self, ErrorKind::WrongShard | ErrorKind::NotLeader { .. })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shoal_name())
    }
}

/// An error that crosses the network: a stable kind and a human message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// DynamoDB's wording where clients match on it; otherwise names the offending value and
    /// the limit.
    pub message: String,
}

impl Error {
    /// An error of any kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// A `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, message)
    }

    /// A `SerializationException`.
    pub fn serialization(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Serialization, message)
    }

    /// A `ResourceNotFoundException` with DynamoDB's message.
    pub fn resource_not_found() -> Error {
        Error::new(ErrorKind::ResourceNotFound, "Requested resource not found")
    }

    /// A `ResourceNotFoundException` naming the resource.
    pub fn resource_not_found_named(what: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: {what} not found"),
        )
    }

    /// A `ResourceInUseException`.
    pub fn resource_in_use(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::ResourceInUse, message)
    }

    /// A `ConditionalCheckFailedException` with DynamoDB's message.
    pub fn conditional_check_failed() -> Error {
        Error::new(
            ErrorKind::ConditionalCheckFailed,
            "The conditional request failed",
        )
    }

    /// An `InternalServerError`.
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InternalServerError, message)
    }

    /// A `LimitExceededException`.
    pub fn limit_exceeded(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::LimitExceeded, message)
    }

    /// Shoal's `WrongShard` routing error.
    pub fn wrong_shard(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::WrongShard, message)
    }

    /// Shoal's `NotLeader` routing error.
    pub fn not_leader(hint: Option<ReplicaLocation>) -> Error {
        let message = match hint {
            Some(leader) => format!(
                "not the partition leader; leader is node {} shard {}",
                leader.node.0, leader.shard.0
            ),
            None => "not the partition leader; leader unknown".to_owned(),
        };
        Error::new(ErrorKind::NotLeader { hint }, message)
    }

    /// Shoal's `NotSupportedYet`: names the operation.
    pub fn not_supported_yet(operation: &str) -> Error {
        Error::new(
            ErrorKind::NotSupportedYet,
            format!("Operation {operation} is not supported yet by this node"),
        )
    }
}

impl From<NumberError> for Error {
    fn from(error: NumberError) -> Error {
        Error::validation(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{NodeId, ShardId};

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut codes: Vec<u16> = ERROR_KINDS.iter().map(ErrorKind::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ERROR_KINDS.len());
        for kind in ERROR_KINDS {
            assert_eq!(ErrorKind::from_code(kind.code(), None), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0, None), None);
        assert_eq!(ErrorKind::from_code(9999, None), None);
        let hint = Some(ReplicaLocation {
            node: NodeId(3),
            shard: ShardId(1),
        });
        assert_eq!(
            ErrorKind::from_code(101, hint),
            Some(ErrorKind::NotLeader { hint })
        );
    }

    #[test]
    fn dynamodb_mapping_follows_the_catalogue() {
        // (kind, __type, HTTP status, retryable) from dynamodb-semantics.md §3.3 and §4.
        let table = [
            (
                ErrorKind::Validation,
                "com.amazon.coral.validate#ValidationException",
                400,
                false,
            ),
            (
                ErrorKind::Serialization,
                "com.amazon.coral.service#SerializationException",
                400,
                false,
            ),
            (
                ErrorKind::ResourceNotFound,
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                400,
                false,
            ),
            (
                ErrorKind::ConditionalCheckFailed,
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                400,
                false,
            ),
            (
                ErrorKind::ProvisionedThroughputExceeded,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                400,
                true,
            ),
            (
                ErrorKind::TransactionConflict,
                "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                400,
                true,
            ),
            (
                ErrorKind::InternalServerError,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                500,
                true,
            ),
            (
                ErrorKind::WrongShard,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                500,
                true,
            ),
        ];
        for (kind, amz_type, status, retryable) in table {
            assert_eq!(kind.amz_type(), amz_type, "{kind}");
            assert_eq!(kind.http_status(), status, "{kind}");
            assert_eq!(kind.is_retryable(), retryable, "{kind}");
        }
    }

    #[test]
    fn constructors_carry_dynamodb_messages() {
        assert_eq!(
            Error::conditional_check_failed().message,
            "The conditional request failed"
        );
        assert_eq!(
            Error::resource_not_found().message,
            "Requested resource not found"
        );
        let error: Error = NumberError::Overflow.into();
        assert_eq!(error.kind, ErrorKind::Validation);
        assert!(error.message.contains("overflow"));
        let display = Error::validation("bad").to_string();
        assert_eq!(display, "ValidationException: bad");
    }
}
