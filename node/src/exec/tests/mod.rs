//! Tests of request execution against a real storage engine on the simulated disk, table by
//! table of DynamoDB's rules (dynamodb-semantics.md), plus property tests against naive
//! models.

mod catalog;
mod codec;
mod support;
mod throttle;
