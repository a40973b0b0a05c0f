//! Where each request goes and what a failure means: the retry loop shared by every
//! operation. Data-plane requests go to the leader of the partition covering their key's
//! hash; control-plane requests to shard 0 of the metadata leader. Routing errors update
//! the cached map (the fresh entry they carry, or a leader hint) and retry at once; other
//! retryable errors retry after a jittered back-off; `ResourceNotFound` on a data request
//! refetches the table's route once (a stale map), then surfaces.
//!
//! Invariant: a call makes at most `1 + retries_max` attempts and ends within
//! `operation_timeout` (each attempt within `attempt_timeout`); a request whose outcome is
//! unknown (sent, then no answer) is retried only if it is idempotent.
//! Does not build requests or merge batch results (see `requests`, `batch`, `scan`).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use shoal_wire::ErrorKind;
use shoal_wire::cluster::{NodeId, ReplicaLocation};
use shoal_wire::key::partition_hash;
use shoal_wire::message::{DescribeClusterRequest, DescribeClusterResponse};
use tokio::time::{Instant, sleep};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exchange::{Exchange, Keyed};
use crate::partition_map::TableRoute;
use crate::topology::{Topology, shard_zero};

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Try again, after a back-off if `backoff`.
    Retry {
        /// Sleep first.
        backoff: bool,
    },
    /// Refetch the table's route, then try again (once per call).
    Refetch,
    /// Give up with this error.
    Fail,
}

/// The decision table of the retry loop (pure, so it can be tested on its own).
pub(crate) fn next_step(
    error: &Error,
    idempotent: bool,
    routing_retries: u32,
    refetched: bool,
) -> Step {
    match error {
        Error::Service(service) => match service.error.kind {
            kind if kind.is_routing() => Step::Retry {
                backoff: routing_retries > 0,
            },
            ErrorKind::ResourceNotFound if !refetched => Step::Refetch,
            kind if kind.is_retryable() => Step::Retry { backoff: true },
            _ => Step::Fail,
        },
        Error::Transport { sent, .. } | Error::Timeout { sent, .. } => {
            if *sent && !idempotent {
                Step::Fail
            } else {
                Step::Retry { backoff: true }
            }
        }
        Error::Protocol { .. } | Error::Config(_) | Error::Conversion(_) => Step::Fail,
    }
}

/// The attempt budget of one call.
pub(crate) struct Attempts {
    retries: u32,
    routing_retries: u32,
    refetched: bool,
    /// When the whole call must be over.
    pub deadline: Instant,
}

impl Attempts {
    /// A fresh budget.
    pub fn new(client: &Client) -> Attempts {
        Attempts {
            retries: 0,
            routing_retries: 0,
            refetched: false,
            deadline: Instant::now() + client.inner.config.operation_timeout,
        }
    }

    /// Decides after a failed attempt: `Ok(step)` to go on (after sleeping if the step
    /// says so), `Err(error)` to give up.
    pub async fn next(
        &mut self,
        client: &Client,
        error: Error,
        idempotent: bool,
        refetchable: bool,
    ) -> Result<Step> {
        let step = next_step(
            &error,
            idempotent,
            self.routing_retries,
            self.refetched || !refetchable,
        );
        if step == Step::Fail || self.retries >= client.inner.config.retries_max {
            return Err(error);
        }
        if error.kind().is_some_and(|k| k.is_routing()) {
            self.routing_retries += 1;
        }
        if step == Step::Refetch {
            self.refetched = true;
        }
        if step == (Step::Retry { backoff: true }) {
            let delay = client.inner.backoff.delay(self.retries, client.random());
            if Instant::now() + delay >= self.deadline {
                return Err(error);
            }
            sleep(delay).await;
        }
        self.retries += 1;
        Ok(step)
    }
}

impl Client {
    /// One attempt at one shard, bounded by the attempt timeout and the call's deadline.
    pub(crate) async fn call_at<Q: Exchange>(
        &self,
        location: ReplicaLocation,
        request: &Q,
        deadline: Instant,
    ) -> Result<Q::Response> {
        let endpoint = self.topology().endpoint(location).ok_or_else(|| {
            Error::Config(format!(
                "no address for node {} shard {}",
                location.node.0, location.shard.0
            ))
        })?;
        let now = Instant::now();
        let full_attempt = now + self.inner.config.attempt_timeout;
        let result = match self.inner.pool.connection(&endpoint).await {
            Ok(connection) => connection.call(request, deadline.min(full_attempt)).await,
            Err(error) => Err(error),
        };
        let suspects = &self.inner.suspects;
        match &result {
            // A timeout cut short by the call's own deadline says nothing about the node.
            Err(Error::Timeout { .. }) if deadline < full_attempt => {}
            Err(Error::Transport { .. } | Error::Timeout { .. }) => {
                tracing::debug!(
                    node = location.node.0,
                    "suspecting a node: {:?}",
                    result.as_ref().err()
                );
                suspects.suspect(location.node, Instant::now());
            }
            _ => suspects.clear(location.node),
        }
        result
    }

    /// Sends a control-plane request to the metadata leader, following `NotLeader` hints
    /// and failing over to the other nodes when one cannot be reached.
    pub(crate) async fn send_control<Q: Exchange>(&self, request: Q) -> Result<Q::Response> {
        let mut run = Attempts::new(self);
        let topology = self.topology();
        let mut target = topology
            .control_target()
            .ok_or_else(|| Error::Config("the cluster has no nodes".into()))?;
        loop {
            let target_now = self.steer_control(target);
            let error = match self.call_at(target_now, &request, run.deadline).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            target = next_control_target(&self.topology(), target_now, &error);
            if let Some(leader) = metadata_leader_hint(&error) {
                // Later control requests go straight there: asking a follower first costs a
                // round trip and wakes its hibernating metadata group every time.
                self.learn_metadata_leader(leader);
            }
            run.next(self, error, Q::IDEMPOTENT, false).await?;
        }
    }

    /// Sends a data-plane request to the leader of its key's partition, learning from
    /// routing errors.
    pub(crate) async fn send_keyed<Q: Keyed>(&self, request: Q) -> Result<Q::Response> {
        let table_name = request.table_name().to_owned();
        let plan = |route: &TableRoute, attempt: &mut Q| {
            attempt.set_map_epoch(route.epoch);
            attempt
                .partition_value(&route.schema)
                .and_then(|value| partition_hash(&value).ok())
        };
        let unroutable = |attempt: &Q, route: &TableRoute| attempt.unroutable_error(&route.schema);
        let pick = if request.any_replica() {
            Pick::AnyReplica
        } else {
            Pick::Leader
        };
        let (response, _) = self
            .send_routed(&table_name, pick, request, plan, unroutable)
            .await?;
        Ok(response)
    }

    /// The retry loop of every routed request: `plan` fits `request` to the current route
    /// before each attempt (map epoch, hash range) and names the partition-key hash it is
    /// about (`None`: unroutable, sent to any shard so that shard reports the exact
    /// validation error; `unroutable` gives the error if it answers with a routing error
    /// instead). Returns the answer and the route the successful attempt was planned with.
    pub(crate) async fn send_routed<Q: Exchange>(
        &self,
        table_name: &str,
        pick: Pick,
        mut request: Q,
        plan: impl Fn(&TableRoute, &mut Q) -> Option<u64>,
        unroutable: impl Fn(&Q, &TableRoute) -> Error,
    ) -> Result<(Q::Response, Arc<TableRoute>)> {
        let mut run = Attempts::new(self);
        loop {
            let route = self.table_route(table_name).await?;
            let hash = plan(&route, &mut request);
            let entry = match hash {
                Some(hash) => route.lookup(hash),
                None => route.partitions.first(),
            };
            let now = Instant::now();
            let suspects = &self.inner.suspects;
            let target = match (pick, entry) {
                (Pick::AnyReplica, Some(entry)) if !entry.replicas.is_empty() => {
                    let turn = self.inner.spread.fetch_add(1, Ordering::Relaxed);
                    let preferred = entry.replicas[turn % entry.replicas.len()];
                    Some(suspects.steer(preferred, &entry.replicas, now))
                }
                (_, entry) => entry.and_then(|entry| suspects.target(entry, now)),
            };
            let Some(target) = target else {
                // A gap in the cached map (a split heard of in part): fetch it whole.
                self.forget_route(table_name, &route);
                let gap = self.protocol_error(format!("no partition covers hash {hash:?}"));
                run.next(self, gap, true, false).await?;
                continue;
            };
            let error = match self.call_at(target, &request, run.deadline).await {
                Ok(response) => return Ok((response, route)),
                Err(error) => error,
            };
            if hash.is_none() && error.kind().is_some_and(|k| k.is_routing()) {
                return Err(unroutable(&request, &route));
            }
            // A replica picked at random says nothing about who leads: the next attempt
            // picks another one.
            if pick == Pick::Leader || error.service().is_some() {
                self.learn(table_name, &route, &error, hash);
            }
            run.next(self, error, Q::IDEMPOTENT, true).await?;
        }
    }

    /// Applies what a failed attempt teaches about a table's routing.
    pub(crate) fn learn(
        &self,
        table_name: &str,
        seen: &Arc<TableRoute>,
        error: &Error,
        hash: Option<u64>,
    ) {
        let Some(service) = error.service() else {
            if matches!(error, Error::Transport { .. } | Error::Timeout { .. }) {
                // The leader may be down: its partition's next replica knows (or elects) the
                // new one. A single replica's partition may have moved: fetch the map again.
                match hash.and_then(|h| seen.with_next_replica(h)) {
                    Some(route) => self.replace_route(table_name, seen, route),
                    None => self.forget_route(table_name, seen),
                }
            }
            return;
        };
        let fresh = service
            .partition
            .as_ref()
            .and_then(|entry| seen.with_entry(entry));
        match service.error.kind {
            ErrorKind::WrongShard => match fresh {
                Some(route) => self.replace_route(table_name, seen, route),
                None => self.forget_route(table_name, seen),
            },
            ErrorKind::NotLeader { hint } => {
                let base = fresh.unwrap_or_else(|| seen.as_ref().clone());
                let hinted = hint
                    .zip(hash)
                    .and_then(|(leader, hash)| base.with_leader(hash, leader));
                // Nothing new means an election is under way; the back-off waits for it.
                if let Some(route) = hinted.or_else(|| (base != **seen).then_some(base)) {
                    self.replace_route(table_name, seen, route);
                }
            }
            ErrorKind::ResourceNotFound => self.forget_route(table_name, seen),
            _ => {}
        }
    }

    /// Shard 0 of the first node from `target` on (in id order, wrapping) that is not
    /// suspected; `target` itself when every node is.
    fn steer_control(&self, target: ReplicaLocation) -> ReplicaLocation {
        let now = Instant::now();
        let suspects = &self.inner.suspects;
        if !suspects.is_suspected(target.node, now) {
            return target;
        }
        let mut order = vec![target];
        order.extend(self.topology().control_candidates(Some(target.node)));
        suspects.steer(target, &order, now)
    }

    /// Asks the nodes (shard 0 of each, in id order, then every other shard) to describe the
    /// cluster; the first answer replaces the topology.
    pub(crate) async fn refresh_topology(&self) -> Result<DescribeClusterResponse> {
        let topology = self.topology();
        let mut candidates = topology.control_candidates(None);
        candidates.extend(topology.all_shards().into_iter().filter(|l| l.shard.0 != 0));
        let mut last = Error::Config("the cluster has no nodes".into());
        for location in candidates {
            let deadline = Instant::now() + self.inner.config.attempt_timeout;
            match self
                .call_at(location, &DescribeClusterRequest {}, deadline)
                .await
            {
                Ok(answer) => {
                    if !answer.nodes.is_empty() {
                        self.set_topology(Topology::from_describe(&answer));
                    }
                    return Ok(answer);
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

/// Which replica of a partition a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The leader (writes, strongly consistent reads).
    Leader,
    /// Any replica, in turn (eventually consistent reads: followers serve them).
    AnyReplica,
}

/// The node a `NotLeader` answer to a control request names as the metadata leader.
fn metadata_leader_hint(error: &Error) -> Option<NodeId> {
    match error {
        Error::Service(service) => match service.error.kind {
            ErrorKind::NotLeader { hint: Some(leader) } => Some(leader.node),
            _ => None,
        },
        _ => None,
    }
}

/// Where a control request goes after `error` at `target`: the leader a replica names, else
/// the next node in turn when `target` cannot be reached or knows no leader (a replica that
/// just restarted, or whose metadata group is still electing: asking the others also wakes
/// a hibernating group there).
fn next_control_target(
    topology: &Topology,
    target: ReplicaLocation,
    error: &Error,
) -> ReplicaLocation {
    let next = || {
        topology
            .control_candidates(Some(target.node))
            .first()
            .copied()
            .unwrap_or(target)
    };
    if let Some(leader) = metadata_leader_hint(error) {
        return shard_zero(leader);
    }
    match error {
        Error::Service(service) => match service.error.kind {
            ErrorKind::NotLeader { .. } => next(),
            _ => target,
        },
        Error::Transport { .. } | Error::Timeout { .. } => next(),
        _ => target,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_wire::Error as WireError;
    use std::time::Duration;

    fn service(kind: ErrorKind) -> Error {
        Error::from(WireError::new(kind, "x"))
    }

    #[test]
    fn decision_table() {
        let lost = |sent| Error::Transport {
            endpoint: "e".into(),
            message: "m".into(),
            sent,
        };
        let timeout = Error::Timeout {
            operation: "PutItem",
            after: Duration::from_secs(1),
            sent: true,
        };
        let cases = [
            (
                service(ErrorKind::WrongShard),
                true,
                0,
                false,
                Step::Retry { backoff: false },
            ),
            (
                service(ErrorKind::WrongShard),
                true,
                1,
                false,
                Step::Retry { backoff: true },
            ),
            (
                service(ErrorKind::NotLeader { hint: None }),
                false,
                0,
                false,
                Step::Retry { backoff: false },
            ),
            (
                service(ErrorKind::ResourceNotFound),
                true,
                0,
                false,
                Step::Refetch,
            ),
            (
                service(ErrorKind::ResourceNotFound),
                true,
                0,
                true,
                Step::Fail,
            ),
            (
                service(ErrorKind::Throttling),
                false,
                0,
                false,
                Step::Retry { backoff: true },
            ),
            (
                service(ErrorKind::ConditionalCheckFailed),
                true,
                0,
                false,
                Step::Fail,
            ),
            (service(ErrorKind::Validation), true, 0, false, Step::Fail),
            (
                service(ErrorKind::NotSupportedYet),
                true,
                0,
                false,
                Step::Fail,
            ),
            (lost(false), false, 0, false, Step::Retry { backoff: true }),
            (lost(true), false, 0, false, Step::Fail),
            (lost(true), true, 0, false, Step::Retry { backoff: true }),
            (timeout, false, 0, false, Step::Fail),
            (Error::Conversion("c".into()), true, 0, false, Step::Fail),
        ];
        for (error, idempotent, routing, refetched, expected) in cases {
            assert_eq!(
                next_step(&error, idempotent, routing, refetched),
                expected,
                "{error:?}"
            );
        }
    }

    #[test]
    fn control_requests_follow_hints_and_else_go_round() {
        let topology = crate::topology::tests::topology();
        let at = |node| shard_zero(shoal_wire::cluster::NodeId(node));
        let hint = at;
        let not_leader = |h: Option<ReplicaLocation>| service(ErrorKind::NotLeader { hint: h });
        let next = |target, error: &Error| next_control_target(&topology, target, error);
        assert_eq!(next(at(1), &not_leader(Some(hint(3)))), at(3));
        assert_eq!(next(at(1), &not_leader(None)), at(2));
        assert_eq!(next(at(3), &not_leader(None)), at(1));
        let lost = Error::Transport {
            endpoint: "e".into(),
            message: "m".into(),
            sent: false,
        };
        assert_eq!(next(at(2), &lost), at(3));
        assert_eq!(next(at(2), &service(ErrorKind::Throttling)), at(2));
    }
}
