//! The client library's error: what the service answered (a [`wire::Error`] whose kind has
//! its DynamoDB name) or what went wrong on the way (transport, timeout, protocol,
//! configuration, conversion).
//!
//! Invariant: service errors keep the node's kind and message unchanged, so a caller sees
//! exactly DynamoDB's name and wording; client-side failures have their own variants and
//! never pretend to be a service answer. A failure after the request was written
//! (`sent = true`) means the outcome of a write is unknown.
//! Does not decide retries (see `routing`); it only reports what each error allows.

use std::time::Duration;

use shoal_wire as wire;
use shoal_wire::cluster::PartitionMapEntry;
use shoal_wire::message::{CancellationReason, ErrorReply};
use shoal_wire::{ErrorKind, Item};

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered by a node, with the payload DynamoDB attaches to some kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceError {
    /// Kind (with its DynamoDB name) and message.
    pub error: wire::Error,
    /// The existing item of a failed condition (`ReturnValuesOnConditionCheckFailure`).
    pub item: Option<Item>,
    /// One reason per action of a cancelled transaction.
    pub cancellation_reasons: Vec<CancellationReason>,
    /// The fresh partition-map entry of a routing error.
    pub partition: Option<PartitionMapEntry>,
}

impl ServiceError {
    /// The error carried by an error reply.
    pub fn from_reply(reply: ErrorReply) -> ServiceError {
        ServiceError {
            error: reply.to_error(),
            item: reply.item,
            cancellation_reasons: reply.cancellation_reasons,
            partition: reply.partition,
        }
    }
}

/// Everything a client call can fail with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with an error (DynamoDB's kinds; Shoal's routing kinds only
    /// when the retries ran out).
    #[error("{}: {}", .0.error.kind.dynamodb_name(), .0.error.message)]
    Service(Box<ServiceError>),
    /// The request could not be exchanged with a shard (connect, write or read failed).
    #[error("cannot exchange with {endpoint}: {message}")]
    Transport {
        /// `host:port` of the shard.
        endpoint: String,
        /// What failed.
        message: String,
        /// True if the request may have reached the shard (a write's outcome is unknown).
        sent: bool,
    },
    /// No answer within the configured time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation (`PutItem`, `connect`...).
        operation: &'static str,
        /// The time waited.
        after: Duration,
        /// True if the request may have reached the shard (a write's outcome is unknown).
        sent: bool,
    },
    /// A shard sent bytes this client cannot read as an answer.
    #[error("protocol error from {endpoint}: {message}")]
    Protocol {
        /// `host:port` of the shard.
        endpoint: String,
        /// What was wrong.
        message: String,
    },
    /// The cluster file or client configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A Rust value does not convert to an item, or an item to the requested type.
    #[error("conversion: {0}")]
    Conversion(String),
}

impl Error {
    /// A client-side `ValidationException` (a request the library can tell is invalid
    /// before sending it), with DynamoDB's message.
    pub fn validation(message: impl Into<String>) -> Error {
        Error::from(wire::Error::validation(message))
    }

    /// The service error kind, `None` for client-side failures.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Service(service) => Some(service.error.kind),
            _ => None,
        }
    }

    /// The name to show: DynamoDB's name of the kind for service errors
    /// (`ConditionalCheckFailedException`...), otherwise the client-side category
    /// (`TransportError`, `TimeoutError`, `ProtocolError`, `ConfigError`, `ConversionError`).
    pub fn name(&self) -> &'static str {
        match self {
            Error::Service(service) => service.error.kind.dynamodb_name(),
            Error::Transport { .. } => "TransportError",
            Error::Timeout { .. } => "TimeoutError",
            Error::Protocol { .. } => "ProtocolError",
            Error::Config(_) => "ConfigError",
            Error::Conversion(_) => "ConversionError",
        }
    }

    /// The human message without the name.
    pub fn message(&self) -> String {
        match self {
            Error::Service(service) => service.error.message.clone(),
            Error::Transport {
                endpoint, message, ..
            } => format!("cannot exchange with {endpoint}: {message}"),
            Error::Timeout {
                operation, after, ..
            } => format!("{operation} timed out after {after:?}"),
            Error::Protocol { endpoint, message } => {
                format!("protocol error from {endpoint}: {message}")
            }
            Error::Config(message) | Error::Conversion(message) => message.clone(),
        }
    }

    /// The service error with its payload, if this is one.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Error::Service(service) => Some(service),
            _ => None,
        }
    }

    /// True when the request may have reached a shard but no answer came back: a write's
    /// effect is unknown and retrying it blindly could apply it twice.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Transport { sent: true, .. } | Error::Timeout { sent: true, .. }
        )
    }

    /// True for the service kinds DynamoDB marks retryable and for transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service(service) => service.error.kind.is_retryable(),
            Error::Transport { .. } | Error::Timeout { .. } => true,
            _ => false,
        }
    }
}

impl From<wire::Error> for Error {
    fn from(error: wire::Error) -> Error {
        Error::Service(Box::new(ServiceError {
            error,
            item: None,
            cancellation_reasons: Vec::new(),
            partition: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dynamodb_for_service_errors() {
        let error = Error::from(wire::Error::conditional_check_failed());
        assert_eq!(error.name(), "ConditionalCheckFailedException");
        assert_eq!(error.kind(), Some(ErrorKind::ConditionalCheckFailed));
        assert_eq!(
            error.to_string(),
            "ConditionalCheckFailedException: The conditional request failed"
        );
        assert!(!error.is_retryable());
        let throttled = Error::from(wire::Error::new(ErrorKind::Throttling, "slow down"));
        assert!(throttled.is_retryable());
        let lost = Error::Timeout {
            operation: "PutItem",
            after: Duration::from_secs(1),
            sent: true,
        };
        assert!(lost.outcome_unknown() && lost.kind().is_none());
        assert_eq!(lost.name(), "TimeoutError");
    }

    #[test]
    fn reply_payload_is_kept() {
        let mut reply = ErrorReply::from_error(&wire::Error::conditional_check_failed());
        reply.item = Some(Item::new());
        let service = ServiceError::from_reply(reply);
        assert_eq!(service.error.kind, ErrorKind::ConditionalCheckFailed);
        assert_eq!(service.item, Some(Item::new()));
    }
}
