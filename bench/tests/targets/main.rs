//! shoal-bench against real targets: every workload briefly against Redis and a one-node
//! Shoal cluster with consistent reports, open loop charging queueing delay on a stalled
//! target, `compare` alternating targets, and bad flags rejected by name.

mod harness;
mod runs;
mod stall;
