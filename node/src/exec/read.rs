//! What reads share: the outcome type that carries the units consumed, and the choice between
//! ProjectionExpression and the legacy AttributesToGet.
//!
//! Invariant: a read's capacity is computed from the items as stored (whole items, before any
//! projection), as §10.1 charges it.
//! Does not read anything itself.

use shoal_wire::Error;
use shoal_wire::expr::{self, Projection};

use super::capacity::MilliUnits;
use super::params::reject_mixed;

/// A read's response and the read units it consumed (charge them to the partition's bucket).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOutcome<R> {
    /// What the client gets.
    pub response: R,
    /// Read units consumed.
    pub capacity: MilliUnits,
}

/// Rejects `AttributesToGet` combined with `ProjectionExpression` and translates the legacy
/// list (non-empty, no duplicates). `expression` is the parsed ProjectionExpression.
pub(crate) fn projection_of(
    expression: Option<Projection>,
    attributes_to_get: Option<&[String]>,
) -> Result<Option<Projection>, Error> {
    match (expression, attributes_to_get) {
        (Some(projection), _) => Ok(Some(projection)),
        (None, Some(names)) => expr::attributes_to_get(names).map(Some),
        (None, None) => Ok(None),
    }
}

/// The mixing check of GetItem and BatchGetItem's per-table parameters.
pub(crate) fn reject_mixed_projection(
    attributes_to_get: bool,
    projection_expression: bool,
) -> Result<(), Error> {
    reject_mixed(
        &[("AttributesToGet", attributes_to_get)],
        &[("ProjectionExpression", projection_expression)],
    )
}
