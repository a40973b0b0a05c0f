//! Client settings: timeouts, retry bounds, map refresh period, in-flight bound.
//!
//! Invariant: every wait, retry and queue of the client is bounded by a field here;
//! [`ClientConfig::validate`] rejects settings that would make a bound meaningless (a zero
//! timeout, a minimum delay above the maximum) and names the field.
//! Does not read files: the cluster file is `cluster_file`'s.

use std::time::Duration;

/// How a [`crate::Client`] waits, retries and refreshes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Longest wait for a TCP connection to a shard.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one attempt of a request.
    pub attempt_timeout: Duration,
    /// Longest time one call may take, all attempts and back-offs included.
    pub operation_timeout: Duration,
    /// Most retries of one call after its first attempt (routing retries included).
    pub retries_max: u32,
    /// Ceiling of the first back-off; it doubles per retry up to `retry_delay_max`.
    pub retry_delay_min: Duration,
    /// Cap of any back-off.
    pub retry_delay_max: Duration,
    /// Period of the background partition-map refresh.
    pub map_refresh_interval: Duration,
    /// How long a node that let an attempt time out (or whose connection failed) is passed
    /// over: requests for the partitions it leads go to their other replicas meanwhile.
    pub node_suspicion_period: Duration,
    /// Requests in flight on one connection; more wait for a slot.
    pub requests_in_flight_per_connection_max: usize,
    /// Rounds a batch call spends re-sending unprocessed parts before returning them.
    pub batch_rounds_max: u32,
    /// Seed of the back-off jitter (default: from the clock and process id).
    pub jitter_seed: Option<u64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            retries_max: 10,
            retry_delay_min: Duration::from_millis(10),
            retry_delay_max: Duration::from_secs(1),
            map_refresh_interval: Duration::from_secs(10),
            node_suspicion_period: Duration::from_secs(3),
            requests_in_flight_per_connection_max: 1024,
            batch_rounds_max: 8,
            jitter_seed: None,
        }
    }
}

impl ClientConfig {
    /// Checks the relations between fields, naming the one at fault.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("connect_timeout", self.connect_timeout),
            ("attempt_timeout", self.attempt_timeout),
            ("operation_timeout", self.operation_timeout),
            ("retry_delay_min", self.retry_delay_min),
            ("map_refresh_interval", self.map_refresh_interval),
            ("node_suspicion_period", self.node_suspicion_period),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| value.is_zero()) {
            return Err(format!("{name} must be greater than zero"));
        }
        if self.retry_delay_min > self.retry_delay_max {
            return Err(format!(
                "retry_delay_min {:?} exceeds retry_delay_max {:?}",
                self.retry_delay_min, self.retry_delay_max
            ));
        }
        if self.requests_in_flight_per_connection_max == 0 {
            return Err("requests_in_flight_per_connection_max must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_validates_and_bad_fields_are_named() {
        ClientConfig::default().validate().unwrap();
        let mut config = ClientConfig {
            attempt_timeout: Duration::ZERO,
            ..ClientConfig::default()
        };
        assert!(config.validate().unwrap_err().contains("attempt_timeout"));
        config.attempt_timeout = Duration::from_secs(1);
        config.retry_delay_min = Duration::from_secs(5);
        assert!(config.validate().unwrap_err().contains("retry_delay_min"));
    }
}
