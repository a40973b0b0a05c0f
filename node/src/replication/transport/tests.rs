//! Transport tests: two cores against each other in memory (virtual time, every datagram
//! through real QUIC and TLS), and two endpoints on real UDP sockets on loopback.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::certs::{CertPem, DevCa};
use super::core::{Lane, Membership, PeerNode, SendError, ShardAddr, TransportCore};
use super::core::{TransportEvent, TransportLimits};
use super::tls::{TlsIdentity, quic_configs};
use super::{Transport, bind_udp_exclusive};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn membership(bases: &[(u32, u16)]) -> Membership {
    Membership {
        cluster: "test".into(),
        nodes: bases
            .iter()
            .map(|&(id, base)| {
                let node = PeerNode {
                    host: LOOPBACK,
                    peer_port_base: base,
                    shards: 2,
                };
                (id, node)
            })
            .collect::<HashMap<_, _>>(),
    }
}

fn core_with(
    ca: &DevCa,
    pem: &CertPem,
    local: ShardAddr,
    members: Membership,
    limits: TransportLimits,
) -> TransportCore {
    let identity = TlsIdentity::from_pem(ca.cert_pem(), &pem.cert, &pem.key).expect("identity");
    let configs = quic_configs(&identity, local.shard).expect("configs");
    TransportCore::new(local, members, configs, limits)
}

/// Two cores wired back to back, with a virtual clock.
struct Pair {
    a: TransportCore,
    b: TransportCore,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    now: Instant,
}

impl Pair {
    /// `a` is shard 0 of node 1 on port 7000, `b` shard 1 of node 2 on port 8001.
    fn new(a: TransportCore, b: TransportCore) -> Self {
        Self {
            a,
            b,
            a_addr: SocketAddr::new(LOOPBACK, 7000),
            b_addr: SocketAddr::new(LOOPBACK, 8001),
            now: Instant::now(),
        }
    }

    /// Moves datagrams both ways until nothing moves, advancing time 1 ms per round.
    fn pump(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.a.drive(self.now);
            self.b.drive(self.now);
            let from_a = self.a.take_transmits();
            let from_b = self.b.take_transmits();
            for d in from_a {
                assert_eq!(d.to, self.b_addr);
                self.b
                    .handle_datagram(self.now, self.a_addr, BytesMut::from(&d.bytes[..]));
            }
            for d in from_b {
                assert_eq!(d.to, self.a_addr);
                self.a
                    .handle_datagram(self.now, self.b_addr, BytesMut::from(&d.bytes[..]));
            }
            self.now += Duration::from_millis(1);
        }
    }
}

fn shard(node: u32, shard: u16) -> ShardAddr {
    ShardAddr { node, shard }
}

fn messages(core: &mut TransportCore) -> Vec<(ShardAddr, Lane, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(e) = core.poll_event() {
        if let TransportEvent::Message {
            from,
            lane,
            payload,
        } = e
        {
            out.push((from, lane, payload.to_vec()));
        }
    }
    out
}

#[test]
fn messages_arrive_whole_and_in_order_per_lane() {
    let ca = DevCa::mint("test").expect("ca").0;
    let members = membership(&[(1, 7000), (2, 8000)]);
    let a_pem = ca.issue_node("test", 1).expect("node 1");
    let b_pem = ca.issue_node("test", 2).expect("node 2");
    let mut p = Pair::new(
        core_with(
            &ca,
            &a_pem,
            shard(1, 0),
            members.clone(),
            TransportLimits::default(),
        ),
        core_with(
            &ca,
            &b_pem,
            shard(2, 1),
            members,
            TransportLimits::default(),
        ),
    );

    let mut sent = Vec::new();
    for i in 0..200u32 {
        let lane = if i % 3 == 0 {
            Lane::Control
        } else {
            Lane::Raft
        };
        // Sizes from a few bytes to 256 KiB, so messages span many packets.
        let payload = vec![(i % 251) as u8; (i as usize * 1319) % (256 << 10) + 1];
        p.a.send(p.now, shard(2, 1), lane, &payload)
            .expect("queued");
        sent.push((shard(1, 0), lane, payload));
    }
    p.pump(3000);
    let got = messages(&mut p.b);
    for lane in [Lane::Raft, Lane::Control] {
        let want: Vec<_> = sent.iter().filter(|m| m.1 == lane).collect();
        let have: Vec<_> = got.iter().filter(|m| m.1 == lane).collect();
        assert_eq!(have.len(), want.len(), "{lane:?}: every message arrives");
        assert!(have == want, "{lane:?}: bytes and order preserved");
    }
    assert_eq!(p.a.stats().messages_sent, 200);
    assert_eq!(p.b.stats().messages_received, 200);

    // And back the other way, on B's own connection.
    p.b.send(p.now, shard(1, 0), Lane::Raft, b"ack")
        .expect("queued");
    p.pump(200);
    assert_eq!(
        messages(&mut p.a),
        vec![(shard(2, 1), Lane::Raft, b"ack".to_vec())]
    );
    assert_eq!(p.a.stats().connections_opened, 1);
    assert_eq!(p.b.stats().connections_opened, 1);
}

#[test]
fn a_certificate_for_another_node_is_refused() {
    let ca = DevCa::mint("test").expect("ca").0;
    // Node 2's endpoint presents node 3's certificate: signed by the cluster CA, wrong node.
    let wrong = ca.issue_node("test", 3).expect("node 3");
    let a_pem = ca.issue_node("test", 1).expect("node 1");
    let members = membership(&[(1, 7000), (2, 8000), (3, 9000)]);
    let mut p = Pair::new(
        core_with(
            &ca,
            &a_pem,
            shard(1, 0),
            members.clone(),
            TransportLimits::default(),
        ),
        core_with(
            &ca,
            &wrong,
            shard(2, 1),
            members,
            TransportLimits::default(),
        ),
    );

    // As a server, node 2's endpoint fails A's check of the server name.
    p.a.send(p.now, shard(2, 1), Lane::Raft, b"to node 2")
        .expect("queued");
    p.pump(300);
    assert!(messages(&mut p.b).is_empty());
    assert!(
        std::iter::from_fn(|| p.a.poll_event())
            .any(|e| e == TransportEvent::Unreachable(shard(2, 1))),
        "the sender learns the destination is unreachable"
    );
    // As a client, it claims node 2 in its hello while its certificate names node 3.
    p.b.send(p.now, shard(1, 0), Lane::Raft, b"from node 2?")
        .expect("queued");
    p.pump(300);
    assert!(
        messages(&mut p.a).is_empty(),
        "nothing delivered from an impostor"
    );
    assert_eq!(p.a.stats().peers_refused, 1);
}

#[test]
fn a_peer_from_another_ca_cannot_connect() {
    let ca = DevCa::mint("test").expect("ca").0;
    let other = DevCa::mint("test").expect("other ca").0;
    let members = membership(&[(1, 7000), (2, 8000)]);
    let a_pem = ca.issue_node("test", 1).expect("node 1");
    let b_pem = other.issue_node("test", 2).expect("node 2 of another CA");
    let mut p = Pair::new(
        core_with(
            &ca,
            &a_pem,
            shard(1, 0),
            members.clone(),
            TransportLimits::default(),
        ),
        core_with(
            &other,
            &b_pem,
            shard(2, 1),
            members,
            TransportLimits::default(),
        ),
    );
    let slow_retry = TransportLimits {
        reconnect_delay_min: Duration::from_secs(60),
        ..TransportLimits::default()
    };
    p.a = core_with(
        &ca,
        &a_pem,
        shard(1, 0),
        membership(&[(1, 7000), (2, 8000)]),
        slow_retry,
    );
    p.a.send(p.now, shard(2, 1), Lane::Control, b"hello?")
        .expect("queued");
    p.pump(300);
    assert!(messages(&mut p.b).is_empty());
    assert!(
        std::iter::from_fn(|| p.a.poll_event())
            .any(|e| matches!(e, TransportEvent::Unreachable(_)))
    );
    // While backing off, sends are dropped at once rather than queued for a dead peer.
    assert_eq!(
        p.a.send(p.now, shard(2, 1), Lane::Raft, b"x"),
        Err(SendError::Unreachable(shard(2, 1)))
    );
}

#[test]
fn queues_are_bounded_and_bad_destinations_refused() {
    let ca = DevCa::mint("test").expect("ca").0;
    let limits = TransportLimits {
        queued_bytes_per_destination_max: 64 << 10,
        ..TransportLimits::default()
    };
    let pem = ca.issue_node("test", 1).expect("node 1");
    let mut a = core_with(
        &ca,
        &pem,
        shard(1, 0),
        membership(&[(1, 7000), (2, 8000)]),
        limits,
    );
    let now = Instant::now();
    let chunk = vec![0u8; 10 << 10];
    let results: Vec<_> = (0..10)
        .map(|_| a.send(now, shard(2, 0), Lane::Raft, &chunk))
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        6,
        "{results:?}"
    );
    assert_eq!(results[9], Err(SendError::QueueFull(shard(2, 0))));
    assert_eq!(a.stats().messages_dropped, 4);
    assert_eq!(
        a.send(now, shard(2, 5), Lane::Raft, b"x"),
        Err(SendError::UnknownDestination(shard(2, 5)))
    );
    assert_eq!(
        a.send(now, shard(1, 1), Lane::Raft, b"x"),
        Err(SendError::UnknownDestination(shard(1, 1))),
        "shards of the same node do not talk over QUIC"
    );
    let huge = vec![0u8; super::MESSAGE_BYTES_MAX + 1];
    assert_eq!(
        a.send(now, shard(2, 0), Lane::Raft, &huge),
        Err(SendError::TooLarge(huge.len()))
    );
}

/// Two endpoints on real UDP sockets in one executor: a round trip, then node 2 restarts on
/// the same port and node 1 reaches the new process after reporting the old one unreachable.
#[test]
fn endpoints_exchange_messages_over_udp_and_survive_a_restart() {
    let ca = DevCa::mint("test").expect("ca").0;
    let p1 = ca.issue_node("test", 1).expect("node 1");
    let p2 = ca.issue_node("test", 2).expect("node 2");
    let s1 = bind_udp_exclusive(SocketAddr::new(LOOPBACK, 0), "node 1").expect("bind");
    let s2 = bind_udp_exclusive(SocketAddr::new(LOOPBACK, 0), "node 2").expect("bind");
    let port1 = s1.local_addr().expect("addr").port();
    let port2 = s2.local_addr().expect("addr").port();
    assert!(
        bind_udp_exclusive(SocketAddr::new(LOOPBACK, port2), "again").is_err(),
        "a taken peer port is an error"
    );
    let members = membership(&[(1, port1), (2, port2)]);
    crate::rt::run_local("transport-test", 256 << 10, move || async move {
        let t1 = Transport::start(
            s1,
            core_with(&ca, &p1, shard(1, 0), members.clone(), Default::default()),
        )
        .expect("start 1");
        let t2 = Transport::start(
            s2,
            core_with(&ca, &p2, shard(2, 0), members.clone(), Default::default()),
        )
        .expect("start 2");
        for i in 0..50u32 {
            t1.send(shard(2, 0), Lane::Raft, &i.to_le_bytes())
                .expect("queued");
        }
        for i in 0..50u32 {
            let e = with_deadline(t2.next_event()).await;
            let want = TransportEvent::Message {
                from: shard(1, 0),
                lane: Lane::Raft,
                payload: bytes::Bytes::copy_from_slice(&i.to_le_bytes()),
            };
            assert_eq!(e, want);
        }
        t2.send(shard(1, 0), Lane::Control, b"pong")
            .expect("queued");
        let e = with_deadline(t1.next_event()).await;
        assert!(
            matches!(e, TransportEvent::Message { ref payload, .. } if &payload[..] == b"pong")
        );

        // Node 2 restarts: same port, fresh endpoint.
        drop(t2);
        // The cancelled tasks release the socket when the executor next runs them.
        let rebind_deadline = Instant::now() + Duration::from_secs(5);
        let s2 = loop {
            crate::rt::sleep(Duration::from_millis(10)).await;
            match bind_udp_exclusive(SocketAddr::new(LOOPBACK, port2), "node 2") {
                Ok(s) => break s,
                Err(e) => assert!(Instant::now() < rebind_deadline, "{e}"),
            }
        };
        let t2 = Transport::start(
            s2,
            core_with(&ca, &p2, shard(2, 0), members, Default::default()),
        )
        .expect("restart 2");
        // Well inside QUIC's 10 s idle timeout: the restarted endpoint resets the old
        // connection (stable reset and connection-id keys) instead of leaving it to time out.
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut unreachable = false;
        let mut delivered = false;
        while !delivered {
            assert!(
                Instant::now() < deadline,
                "node 1 never reached the restarted node 2"
            );
            let _ = t1.send(shard(2, 0), Lane::Raft, b"again");
            crate::rt::sleep(Duration::from_millis(20)).await;
            while let Some(e) = t1.try_event() {
                unreachable |= e == TransportEvent::Unreachable(shard(2, 0));
            }
            while let Some(e) = t2.try_event() {
                delivered |= matches!(e, TransportEvent::Message { .. });
            }
        }
        assert!(unreachable, "the old connection was reported unreachable");
        t1.shut_down().await;
    })
    .expect("executor");
}

async fn with_deadline<T>(fut: impl std::future::Future<Output = T>) -> T {
    let timer = std::pin::pin!(crate::rt::sleep(Duration::from_secs(10)));
    match futures::future::select(std::pin::pin!(fut), timer).await {
        futures::future::Either::Left((v, _)) => v,
        futures::future::Either::Right(_) => panic!("no event within 10 s"),
    }
}

#[test]
fn connections_beyond_the_limit_are_refused() {
    let ca = DevCa::mint("test").expect("ca").0;
    let members = membership(&[(1, 7000), (2, 8000), (3, 9000)]);
    let one = TransportLimits {
        connections_max: 1,
        ..TransportLimits::default()
    };
    let pem = |n| ca.issue_node("test", n).expect("node cert");
    // Node 1 (port 7000) keeps one connection: node 2's. Node 3's is refused.
    let mut p = Pair::new(
        core_with(
            &ca,
            &pem(2),
            shard(2, 1),
            members.clone(),
            Default::default(),
        ),
        core_with(&ca, &pem(1), shard(1, 0), members.clone(), one),
    );
    p.a_addr = SocketAddr::new(LOOPBACK, 8001);
    p.b_addr = SocketAddr::new(LOOPBACK, 7000);
    p.a.send(p.now, shard(1, 0), Lane::Raft, b"from 2")
        .expect("queued");
    p.pump(200);
    assert_eq!(messages(&mut p.b).len(), 1);
    let mut third = core_with(&ca, &pem(3), shard(3, 0), members, Default::default());
    third
        .send(p.now, shard(1, 0), Lane::Raft, b"from 3")
        .expect("queued");
    let from_third = SocketAddr::new(LOOPBACK, 9000);
    for _ in 0..200 {
        third.drive(p.now);
        for d in third.take_transmits() {
            p.b.handle_datagram(p.now, from_third, BytesMut::from(&d.bytes[..]));
        }
        p.b.drive(p.now);
        for d in p.b.take_transmits() {
            if d.to == from_third {
                third.handle_datagram(p.now, p.b_addr, BytesMut::from(&d.bytes[..]));
            }
        }
        p.now += Duration::from_millis(1);
    }
    assert!(messages(&mut p.b).is_empty(), "node 3 got through");
    assert!(p.b.stats().peers_refused >= 1);
    assert!(
        std::iter::from_fn(|| third.poll_event())
            .any(|e| matches!(e, TransportEvent::Unreachable(_)))
    );
}
