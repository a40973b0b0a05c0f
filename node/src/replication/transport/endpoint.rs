//! A transport core driven on a glommio UDP socket: the shard's QUIC endpoint.
//!
//! Two tasks per shard (RUNTIME-NOTES §2.2): a receive task that loops on `recv_from` and
//! queues datagrams (a pending completion-based receive must never be dropped, pitfall 7),
//! and a driver task that waits for a datagram, a send or the earliest connection timer,
//! feeds the core, and puts the datagrams it produced on the wire. No locks, no `Send`: the
//! core lives in a `RefCell` no borrow of which crosses an await.
//!
//! The socket is bound without SO_REUSEPORT (glommio's own `bind` sets it, pitfall 4), so a
//! taken peer port is a start-up error. Unsafe lives here only to adopt that socket.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};

use super::core::{Lane, SendError, ShardAddr, TransportCore, TransportEvent, TransportStats};
use crate::rt;

/// Datagrams queued between the receive task and the driver; beyond it they are dropped
/// (as the kernel would), and QUIC recovers.
const INBOX_DATAGRAMS_MAX: usize = 8192;
/// Largest datagram read.
const DATAGRAM_BYTES_MAX: usize = 65_536;

/// Binds a UDP socket on `addr` exclusively; a port in use is an error naming it.
pub fn bind_udp_exclusive(addr: SocketAddr, what: &str) -> Result<std::net::UdpSocket, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| format!("cannot create a UDP socket for {what}: {e}"))?;
    socket.bind(&addr.into()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "UDP port {} for {what} is already in use (another Shoal node?)",
                addr.port()
            )
        } else {
            format!("cannot bind {addr} for {what}: {e}")
        }
    })?;
    // Room for bursts of appends between two runs of the receive task.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    Ok(socket.into())
}

/// One waiter, many notifiers; a notification before the wait is not lost.
#[derive(Default)]
struct Signal {
    set: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    fn notify(&self) {
        self.set.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.replace(false) {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

struct Shared {
    core: RefCell<TransportCore>,
    inbox: RefCell<VecDeque<(SocketAddr, BytesMut)>>,
    driver_wake: Signal,
    event_wake: Signal,
    local_addr: SocketAddr,
}

/// A running transport of one shard. Dropping it cancels its tasks (connections end; peers
/// notice by their idle timeout or a stateless reset).
pub struct Transport {
    shared: Rc<Shared>,
    _tasks: [rt::Task<()>; 2],
}

impl Transport {
    /// Starts the endpoint on `socket` (from [`bind_udp_exclusive`]) on the current shard.
    pub fn start(socket: std::net::UdpSocket, core: TransportCore) -> std::io::Result<Self> {
        let local_addr = socket.local_addr()?;
        let fd = socket.into_raw_fd();
        // SAFETY: `fd` is a bound UDP socket whose ownership `into_raw_fd` just released;
        // nothing else closes it.
        let socket = Rc::new(unsafe { glommio::net::UdpSocket::from_raw_fd(fd) });
        let shared = Rc::new(Shared {
            core: RefCell::new(core),
            inbox: RefCell::new(VecDeque::new()),
            driver_wake: Signal::default(),
            event_wake: Signal::default(),
            local_addr,
        });
        let receiver = rt::spawn(receive(shared.clone(), socket.clone()));
        let driver = rt::spawn(drive(shared.clone(), socket));
        Ok(Self {
            shared,
            _tasks: [receiver, driver],
        })
    }

    /// The UDP address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// This shard's address.
    pub fn local(&self) -> ShardAddr {
        self.shared.core.borrow().local()
    }

    /// Queues a message for `to`; it leaves at the driver's next pass.
    pub fn send(&self, to: ShardAddr, lane: Lane, payload: &[u8]) -> Result<(), SendError> {
        let result = self
            .shared
            .core
            .borrow_mut()
            .send(Instant::now(), to, lane, payload);
        self.shared.driver_wake.notify();
        result
    }

    /// The next event, if one is waiting.
    pub fn try_event(&self) -> Option<TransportEvent> {
        let event = self.shared.core.borrow_mut().poll_event();
        if event.is_some() {
            // Reading may have paused on a full delivery queue.
            self.shared.driver_wake.notify();
        }
        event
    }

    /// Waits for the next event.
    pub async fn next_event(&self) -> TransportEvent {
        loop {
            if let Some(event) = self.try_event() {
                return event;
            }
            self.shared.event_wake.wait().await;
        }
    }

    /// The counters.
    pub fn stats(&self) -> TransportStats {
        self.shared.core.borrow().stats().clone()
    }

    /// Closes every connection and gives the close frames a moment to leave.
    pub async fn shut_down(&self) {
        self.shared.core.borrow_mut().close_all(Instant::now());
        self.shared.driver_wake.notify();
        rt::sleep(Duration::from_millis(5)).await;
    }
}

async fn receive(shared: Rc<Shared>, socket: Rc<glommio::net::UdpSocket>) {
    let mut buf = vec![0u8; DATAGRAM_BYTES_MAX];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let mut inbox = shared.inbox.borrow_mut();
                if inbox.len() < INBOX_DATAGRAMS_MAX {
                    inbox.push_back((from, BytesMut::from(&buf[..n])));
                }
                drop(inbox);
                shared.driver_wake.notify();
            }
            Err(e) => {
                // ICMP errors surface here on some kernels; nothing to do but go on.
                tracing::debug!("transport: receive: {e}");
                rt::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

async fn drive(shared: Rc<Shared>, socket: Rc<glommio::net::UdpSocket>) {
    loop {
        let due = shared.core.borrow_mut().poll_timeout();
        match due.map(|t| t.saturating_duration_since(Instant::now())) {
            Some(wait) if wait.is_zero() => {}
            Some(wait) => {
                let woken = pin!(shared.driver_wake.wait());
                let timer = pin!(rt::sleep(wait));
                futures::future::select(woken, timer).await;
            }
            None => shared.driver_wake.wait().await,
        }
        let now = Instant::now();
        let datagrams: Vec<_> = shared.inbox.borrow_mut().drain(..).collect();
        let (transmits, has_events) = {
            let mut core = shared.core.borrow_mut();
            for (from, data) in datagrams {
                core.handle_datagram(now, from, data);
            }
            core.drive(now);
            (core.take_transmits(), core.has_events())
        };
        if has_events {
            shared.event_wake.notify();
        }
        for d in transmits {
            if let Err(e) = socket.send_to(&d.bytes, d.to).await {
                tracing::debug!(to = %d.to, "transport: send: {e}");
            }
        }
        rt::yield_if_needed().await;
    }
}
