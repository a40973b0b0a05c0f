//! Tests of request execution against a real storage engine on the simulated disk, table by
//! table of DynamoDB's rules (dynamodb-semantics.md), plus property tests against naive
//! models.

mod batch;
mod catalog;
mod codec;
mod model;
mod reads;
pub(crate) mod support;
mod throttle;
mod writes;
