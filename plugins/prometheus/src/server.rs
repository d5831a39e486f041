//! The sockets of one HTTP(S) endpoint: binding the port, accepting
//! connections on the plugin's runtime, the TLS handshake, HTTP/1.1 through
//! hyper, the limits, and closing everything on [`Service::stop`]. Used for every
//! cluster's `/metrics` listener and for the discovery listener; what a request
//! gets is the caller's [`Handler`] (`endpoint.rs`, `sd.rs`).
//!
//! Every endpoint of the process is a task on the same two worker threads
//! (`runtime.rs`), and each connection a task of its own: a client that says
//! nothing, a stalled TLS handshake or a slow reader holds up no other client,
//! and a thousand endpoints cost a thousand sockets, not threads.
//!
//! Limits: at most [`MAX_CONNECTIONS`] clients per endpoint, a TLS handshake
//! within [`HANDSHAKE_TIMEOUT`], and a connection on which no byte moves for
//! [`IDLE_TIMEOUT`] (an idle keep-alive connection, a client that stops reading)
//! is closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::body::Body;
use crate::idle::Idle;
use crate::runtime::Runtime;

/// The most client connections one endpoint serves at once; more are closed at
/// once (Prometheus keeps one per target).
pub const MAX_CONNECTIONS: usize = 256;

/// A connection on which no byte moves for this long is closed; also the most
/// a request's headers may take to arrive (including the wait for them on an
/// idle keep-alive connection).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// A TLS handshake must finish within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Service::stop`] waits for the endpoint's tasks to end.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// An answer: its head and a whole or streamed body.
pub type Reply = Response<Body>;

/// What answers each request of an endpoint. Only the request head is given:
/// no endpoint reads a request body.
pub trait Handler: Send + Sync + 'static {
    /// The answer to `request`.
    fn handle(&self, request: Parts) -> impl Future<Output = Reply> + Send;
}

/// A running endpoint. [`Service::stop`] (or dropping it) closes the listening
/// socket and every client connection.
pub struct Service {
    addr: SocketAddr,
    name: String,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: watch::Sender<bool>,
    /// Disconnected once every task of the endpoint has ended: each holds a
    /// sender, and nobody sends.
    done: mpsc::Receiver<()>,
    /// Keeps the runtime up while the endpoint runs.
    _runtime: Arc<Runtime>,
}

/// What every connection of one endpoint shares.
struct Shared<H> {
    handler: H,
    tls: Option<TlsAcceptor>,
    name: String,
    slots: Arc<Semaphore>,
    warned_full: AtomicBool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds `port` on every interface: IPv6 and IPv4 on one dual-stack socket where
/// the system has IPv6, else IPv4 only. SO_REUSEADDR is set so that a restart
/// binds at once while old connections sit in TIME_WAIT; SO_REUSEPORT is not, so
/// a port another process listens on is refused with `AddrInUse`.
pub fn bind(port: u16) -> io::Result<TcpListener> {
    match bind_on(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), true) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(e),
        Err(_) => bind_on(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false),
    }
}

/// Binds exactly `addr` (SO_REUSEADDR, no SO_REUSEPORT).
pub fn bind_on(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl Service {
    /// Serves `listener` with `handler` on `runtime`, over TLS when `tls` is
    /// given. `name` starts the log lines (`cluster=<name>` or `http_sd`).
    pub fn start<H: Handler>(
        runtime: Arc<Runtime>,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        name: &str,
        handler: H,
    ) -> io::Result<Service> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _in_runtime = runtime.handle().enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = watch::channel(false);
        let (done_tx, done) = mpsc::channel();
        let shared = Arc::new(Shared {
            handler,
            tls: tls.map(TlsAcceptor::from),
            name: name.to_string(),
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            warned_full: AtomicBool::new(false),
        });
        runtime
            .handle()
            .spawn(accept_loop(listener, shared, stopped, done_tx));
        Ok(Service {
            addr,
            name: name.to_string(),
            running: Mutex::new(Some(Running {
                stop,
                done,
                _runtime: runtime,
            })),
        })
    }

    /// The address the endpoint listens on (its port, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes every client connection and frees the port; the
    /// port can be bound again when this returns. Later calls do nothing.
    pub fn stop(&self) {
        let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        // Fails only when every task has ended already.
        let _ = r.stop.send(true);
        if let Err(RecvTimeoutError::Timeout) = r.done.recv_timeout(STOP_WAIT) {
            log::error!(
                "{} port {} still had connections {} s after being stopped",
                self.name,
                self.addr.port(),
                STOP_WAIT.as_secs()
            );
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<H: Handler>(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared<H>>,
    mut stopped: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stopped.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: breathe, then go on.
                log::warn!("{} cannot accept a connection: {e}", shared.name);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&shared.slots).try_acquire_owned() else {
            if !shared.warned_full.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "{} has {MAX_CONNECTIONS} client connections open; refusing more",
                    shared.name
                );
            }
            continue;
        };
        let (shared, mut stopped, done) = (Arc::clone(&shared), stopped.clone(), done.clone());
        tokio::spawn(async move {
            tokio::select! {
                served = serve_connection(stream, &shared) => {
                    if let Err(e) = served {
                        log::debug!("{} connection ended: {e}", shared.name);
                    }
                }
                _ = stopped.wait_for(|s| *s) => {}
            }
            drop((slot, done));
        });
    }
    // The port is free before `stop` hears of the end.
    drop(listener);
    drop(done);
}

async fn serve_connection<H: Handler>(
    stream: tokio::net::TcpStream,
    shared: &Shared<H>,
) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    let io = Idle::new(stream, IDLE_TIMEOUT);
    match &shared.tls {
        None => http1(io, &shared.handler).await?,
        Some(acceptor) => {
            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io))
                .await
                .map_err(|_| {
                    format!("no TLS handshake within {} s", HANDSHAKE_TIMEOUT.as_secs())
                })??;
            http1(tls, &shared.handler).await?
        }
    }
    Ok(())
}

async fn http1<IO, H>(io: IO, handler: &H) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        let (head, _body) = request.into_parts();
        Ok::<_, Infallible>(handler.handle(head).await)
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(IDLE_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use socket2::SockRef;

    /// Answers `<method> <path>`.
    struct Echo;

    impl Handler for Echo {
        async fn handle(&self, request: Parts) -> Reply {
            Response::new(Body::whole(bytes::Bytes::from(format!(
                "{} {}",
                request.method, request.uri
            ))))
        }
    }

    fn runtime() -> Arc<Runtime> {
        Arc::new(Runtime::start("prom-test").unwrap())
    }

    fn get(port: u16, path: &str) -> String {
        let mut s = TcpStream::connect(local(port)).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn local(port: u16) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, port).into()
    }

    #[test]
    fn listener_sets_reuseaddr() {
        let l = bind(0).unwrap();
        assert!(SockRef::from(&l).reuse_address().unwrap());
    }

    #[test]
    fn serves_requests_and_frees_the_port_on_stop() {
        let rt = runtime();
        let service =
            Service::start(Arc::clone(&rt), bind(0).unwrap(), None, "test", Echo).unwrap();
        let port = service.local_addr().port();
        let answer = get(port, "/x?y=1");
        assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
        assert!(answer.ends_with("GET /x?y=1"), "{answer}");
        service.stop();
        assert!(TcpStream::connect(local(port)).is_err());
        let again = Service::start(rt, bind(port).unwrap(), None, "test", Echo).unwrap();
        assert!(get(port, "/").ends_with("GET /"));
        drop(again);
    }

    #[test]
    fn stop_closes_idle_keep_alive_connections() {
        let service = Service::start(runtime(), bind(0).unwrap(), None, "test", Echo).unwrap();
        let mut s = TcpStream::connect(local(service.local_addr().port())).unwrap();
        write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("GET /"));
        service.stop();
        // The connection ends (end of stream or reset), it does not wait for
        // the read timeout.
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        match s.read(&mut buf) {
            Ok(n) => assert_eq!(n, 0, "no more data after stop"),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        }
    }

    #[test]
    fn the_runtime_stops_with_its_last_service() {
        let rt = runtime();
        let weak = Arc::downgrade(&rt);
        let service = Service::start(rt, bind(0).unwrap(), None, "test", Echo).unwrap();
        assert!(weak.upgrade().is_some());
        service.stop();
        assert!(weak.upgrade().is_none());
    }

    /// gostats also sets SO_REUSEPORT, so two collectors could share a port
    /// unnoticed; here the second one is refused.
    #[test]
    fn a_taken_port_is_refused() {
        let first = bind(0).unwrap();
        let port = first.local_addr().unwrap().port();
        let err = bind(port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
