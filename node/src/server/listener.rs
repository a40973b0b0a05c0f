//! Client listeners bound without SO_REUSEPORT.
//!
//! glommio's own `TcpListener::bind` always sets SO_REUSEPORT, so a second process (or a
//! shard started twice) binds the same port silently and steals connections (RUNTIME-NOTES
//! E2, pitfall 4). Shoal binds with socket2 in the main thread, where a taken port is a
//! clear start-up error, and hands the listening descriptor to the shard's thread.
//!
//! Unsafe lives here only to adopt that descriptor into glommio.
//!
//! [`accept_until`] keeps one accept armed for the listener's whole life: glommio accepts
//! through io_uring, and dropping an accept in flight (say, to look at a shutdown flag)
//! cancels the operation and throws away its result, so a connection the kernel completed
//! in that moment is lost: its client sees an open connection nobody ever answers.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections the kernel queues per listener.
const LISTEN_BACKLOG: i32 = 1024;

/// A bound, listening socket not yet adopted by a shard.
#[derive(Debug)]
pub struct BoundListener {
    fd: RawFd,
    /// The address it listens on.
    pub addr: SocketAddr,
}

/// Binds `addr` exclusively; a port in use is an error naming it.
pub fn bind_exclusive(addr: SocketAddr, what: &str) -> Result<BoundListener, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("cannot create a socket for {what}: {e}"))?;
    // SO_REUSEADDR only lets us rebind over TIME_WAIT after a restart; without
    // SO_REUSEPORT a second listener on the same port still fails.
    socket
        .set_reuse_address(true)
        .map_err(|e| format!("setsockopt for {what}: {e}"))?;
    socket.bind(&addr.into()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {} for {what} is already in use (another Shoal node?)",
                addr.port()
            )
        } else {
            format!("cannot bind {addr} for {what}: {e}")
        }
    })?;
    socket
        .listen(LISTEN_BACKLOG)
        .map_err(|e| format!("cannot listen on {addr} for {what}: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("nonblocking {addr}: {e}"))?;
    Ok(BoundListener {
        fd: socket.into_raw_fd(),
        addr,
    })
}

impl BoundListener {
    /// Adopts the socket into the current glommio executor.
    pub fn into_glommio(self) -> glommio::net::TcpListener {
        let fd = self.fd;
        std::mem::forget(self);
        // SAFETY: `fd` is a listening TCP socket created by `bind_exclusive`; ownership was
        // released by `into_raw_fd` and `forget(self)` above, so nothing else closes it.
        unsafe { glommio::net::TcpListener::from_raw_fd(fd) }
    }
}

impl Drop for BoundListener {
    fn drop(&mut self) {
        // SAFETY: an unadopted listener still owns `fd`; rebuilding the Socket closes it.
        drop(unsafe { Socket::from_raw_fd(self.fd) });
    }
}

/// Accepts connections on `listener`, handing each result to `accepted`, until `stop` is
/// set (looked at every `poll`). The accept in flight is never dropped between looks (see
/// the module documentation); only the one pending when `stop` is seen is.
pub async fn accept_until(
    listener: &glommio::net::TcpListener,
    stop: &AtomicBool,
    poll: Duration,
    mut accepted: impl FnMut(glommio::Result<glommio::net::TcpStream, ()>),
) {
    let mut accept = Box::pin(listener.accept());
    // Runs until `stop`.
    loop {
        let next = futures::future::select(accept.as_mut(), Box::pin(crate::rt::sleep(poll))).await;
        if let futures::future::Either::Left((result, _)) = next {
            accept = Box::pin(listener.accept());
            accepted(result);
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_a_clear_error() {
        let first = bind_exclusive("127.0.0.1:0".parse().expect("addr"), "test").expect("bind");
        let port = {
            // SAFETY: borrowing the descriptor for getsockname only; ownership stays here.
            let s = std::mem::ManuallyDrop::new(unsafe { Socket::from_raw_fd(first.fd) });
            s.local_addr()
                .expect("addr")
                .as_socket()
                .expect("inet")
                .port()
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let err = bind_exclusive(addr, "shard 3").expect_err("second bind must fail");
        assert!(
            err.contains("already in use") && err.contains("shard 3"),
            "{err}"
        );
    }

    /// Many connections arrive while the loop looks at its stop flag every few
    /// microseconds: every one is accepted and served (an accept dropped between looks
    /// loses a connection now and then; this found it).
    #[test]
    fn no_connection_is_lost_while_the_stop_flag_is_polled() {
        use std::io::Read;
        const CONNECTIONS: usize = 3000;
        let bound = bind_exclusive("127.0.0.1:0".parse().expect("addr"), "test").expect("bind");
        // SAFETY: borrowing the descriptor for getsockname only; ownership stays in `bound`.
        let addr = std::mem::ManuallyDrop::new(unsafe { Socket::from_raw_fd(bound.fd) })
            .local_addr()
            .expect("addr")
            .as_socket()
            .expect("inet");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let server_stop = stop.clone();
        let server = std::thread::spawn(move || {
            crate::rt::run_local("accept-test", 1 << 20, move || async move {
                let listener = bound.into_glommio();
                let mut served = 0usize;
                accept_until(&listener, &server_stop, Duration::from_micros(20), |r| {
                    let stream = r.expect("accept");
                    served += 1;
                    glommio::spawn_local(async move {
                        use futures::AsyncWriteExt;
                        let mut stream = stream;
                        let _ = stream.write_all(b"!").await;
                    })
                    .detach();
                })
                .await;
                served
            })
            .expect("executor")
        });
        let mut unanswered = 0;
        for _ in 0..CONNECTIONS {
            let mut client = std::net::TcpStream::connect(addr).expect("connect");
            client
                .set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut byte = [0u8; 1];
            if client.read_exact(&mut byte).is_err() {
                unanswered += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let served = server.join().expect("server thread");
        assert_eq!(
            unanswered, 0,
            "connections never served ({served} accepted)"
        );
        assert_eq!(served, CONNECTIONS);
    }
}
