//! Port plans for a local cluster: node `i` (0-based) takes `2 × shards` consecutive ports
//! from the base, its client ports first, then its peer ports.
//!
//! Invariant: a range is offered only if every port in it could be bound on 127.0.0.1 for
//! both TCP (clients) and UDP (QUIC between nodes) when checked; automatic ranges stay below
//! the kernel's usual ephemeral range (32768+) so outgoing connections do not take them.
//! Does not hold the ports: another process may take one before the node binds it.

use std::net::{TcpListener, UdpSocket};

use shoal_router::ClusterNode;

/// Lowest port of an automatically chosen range.
pub const AUTO_PORT_MIN: u16 = 20_000;
/// Ports of automatically chosen ranges stay below this.
pub const AUTO_PORT_END: u16 = 32_768;
/// Ranges tried before giving up.
pub const AUTO_TRIES_MAX: u32 = 200;

/// True if every port of `start..start + count` is free on loopback (TCP and UDP).
pub fn range_is_free(start: u16, count: u32) -> bool {
    (0..count).all(|offset| {
        let Ok(port) = u16::try_from(u32::from(start) + offset) else {
            return false;
        };
        TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
    })
}

/// A free range of `count` ports, tried at pseudo-random places derived from `seed`.
pub fn find_free_range(count: u32, seed: u64) -> Option<u16> {
    let span = u32::from(AUTO_PORT_END - AUTO_PORT_MIN).checked_sub(count)?;
    let mut state = seed | 1;
    (0..AUTO_TRIES_MAX).find_map(|_| {
        // xorshift64: spreads tries over the span without a dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = u16::try_from(state % u64::from(span.max(1))).ok()?;
        let start = AUTO_PORT_MIN + offset;
        range_is_free(start, count).then_some(start)
    })
}

/// The cluster-file nodes of a plan starting at `base`.
pub fn plan(nodes: u32, shards: u16, base: u16) -> Result<Vec<ClusterNode>, String> {
    let stride = 2 * u32::from(shards);
    let end = u32::from(base) + nodes * stride;
    if end > 65_536 {
        return Err(format!("ports {base}..{end} exceed 65535"));
    }
    Ok((0..nodes)
        .map(|i| {
            let client = u32::from(base) + i * stride;
            ClusterNode {
                id: i + 1,
                host: "127.0.0.1".to_owned(),
                client_port_base: u16::try_from(client).expect("checked above"),
                peer_port_base: u16::try_from(client + u32::from(shards)).expect("checked above"),
                shards,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lays_ports_out_per_node() {
        let nodes = plan(3, 2, 7000).unwrap();
        let bases: Vec<(u16, u16)> = nodes
            .iter()
            .map(|n| (n.client_port_base, n.peer_port_base))
            .collect();
        assert_eq!(bases, [(7000, 7002), (7004, 7006), (7008, 7010)]);
        assert_eq!(nodes[2].id, 3);
        assert!(plan(2, 4, 65_530).is_err());
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!range_is_free(port, 1));
        let start = find_free_range(8, 42).unwrap();
        assert!((AUTO_PORT_MIN..AUTO_PORT_END).contains(&start));
    }
}
