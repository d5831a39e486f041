//! One HTTP(S) endpoint: a listening socket of our own in front of a `tiny_http`
//! server, and the threads that connect the two. Used for every cluster's
//! `/metrics` listener and for the service-discovery listener; what a request
//! gets is the caller's handler.
//!
//! Why a front instead of handing the socket to `tiny_http`:
//! - TLS: `tiny_http`'s own TLS features run the handshake on its single accept
//!   thread (one client that connects and sends nothing stops every later scrape)
//!   and its `ssl-rustls` feature pulls rustls 0.20 (RUSTSEC-2024-0336). Here each
//!   connection's handshake runs on its own thread with a timeout, with the
//!   workspace's current rustls (`tls.rs`).
//! - Closing: `tiny_http` gives no way to end its client connections, so a
//!   scraper's idle keep-alive connection would outlive a reload and its next
//!   scrape would hang. The front tracks every client socket and shuts them all
//!   down in [`Service::stop`], and the port is free when `stop` returns.
//! - Limits: at most [`MAX_CONNECTIONS`] clients at once, an idle timeout, write
//!   timeouts.
//!
//! The front accepts on the public socket (SO_REUSEADDR, no SO_REUSEPORT, so a
//! second idic on the same port fails loudly), and for each client opens a Unix
//! socket connection to the private `tiny_http` server (in a folder only this
//! user can enter) and copies bytes both ways, decrypting on the way in when TLS
//! is on. New backend connections are handed to `tiny_http` one at a time, each
//! confirmed by a probe (see [`connect_backend`] for the pool race this avoids).
//! `tiny_http` parses requests; a dispatcher thread hands each one to the handler
//! on a thread of its own, so a slow client never holds up another.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::tls;

/// The most client connections one endpoint serves at once; more are closed at
/// once (Prometheus keeps one per target).
pub const MAX_CONNECTIONS: usize = 256;

/// A client connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// A TLS handshake must finish within this time.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A write to a client that makes no progress for this long fails.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// What answers each request.
pub type Handler = Arc<dyn Fn(tiny_http::Request) + Send + Sync>;

/// A running endpoint. [`Service::stop`] (or dropping it) closes the listening
/// socket, every client connection and the threads.
pub struct Service {
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    listener: TcpListener,
    accept: JoinHandle<()>,
    dispatch: JoinHandle<()>,
    backend: Arc<tiny_http::Server>,
    clients: Arc<Clients>,
    dir: PathBuf,
}

/// The client sockets of one endpoint, so that `stop` can shut them down.
#[derive(Default)]
struct Clients {
    next: AtomicU64,
    open: Mutex<HashMap<u64, TcpStream>>,
    warned_full: AtomicBool,
}

/// The private backend: where it listens, and the gate that hands it one new
/// connection at a time (see [`connect_backend`]).
pub(crate) struct Backend {
    path: PathBuf,
    gate: Mutex<()>,
}

/// What the front sends on a new backend connection before any client byte, and
/// the dispatcher answers at once: proof that a tiny_http worker serves it.
const PROBE: &[u8] = b"OPTIONS * HTTP/1.1\r\nHost: idic-probe\r\n\r\n";

/// How long a new backend connection may take to be served.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Binds exactly `addr` (SO_REUSEADDR, no SO_REUSEPORT); for tests and callers
/// that want one address.
pub fn bind_on(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Starts serving `listener` with `handler`, over TLS when `tls` is given.
/// `name` names the threads and the log lines (`cluster=<name>` or `http_sd`).
pub fn start(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    name: &str,
    handler: Handler,
) -> io::Result<Service> {
    let addr = listener.local_addr()?;
    let dir = private_dir()?;
    let socket_path = dir.join("http.sock");
    let backend = match UnixListener::bind(&socket_path)
        .and_then(|l| tiny_http::Server::from_listener(l, None).map_err(io::Error::other))
    {
        Ok(server) => Arc::new(server),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let clients = Arc::new(Clients::default());

    let spawned = spawn_threads(
        &listener,
        &backend,
        &stop,
        &clients,
        tls,
        socket_path,
        name,
        handler,
    );
    let (dispatch, accept) = match spawned {
        Ok(threads) => threads,
        Err((dispatch, e)) => {
            // Undo what started: the dispatcher (if any), the backend, the folder.
            stop.store(true, Ordering::SeqCst);
            backend.unblock();
            if let Some(d) = dispatch {
                let _ = d.join();
            }
            drop(backend);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    Ok(Service {
        addr,
        running: Mutex::new(Some(Running {
            stop,
            listener,
            accept,
            dispatch,
            backend,
            clients,
            dir,
        })),
    })
}

/// The dispatcher and accept threads; on failure, the error and the dispatcher
/// if it had started.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn spawn_threads(
    listener: &TcpListener,
    backend: &Arc<tiny_http::Server>,
    stop: &Arc<AtomicBool>,
    clients: &Arc<Clients>,
    tls: Option<Arc<rustls::ServerConfig>>,
    socket_path: PathBuf,
    name: &str,
    handler: Handler,
) -> Result<(JoinHandle<()>, JoinHandle<()>), (Option<JoinHandle<()>>, io::Error)> {
    let dispatch = {
        let (backend, stop, name) = (Arc::clone(backend), Arc::clone(stop), name.to_string());
        thread::Builder::new()
            .name("prom-dispatch".into())
            .spawn(move || dispatch(&backend, &stop, &name, handler))
            .map_err(|e| (None, e))?
    };
    let accept = listener.try_clone().and_then(|listener| {
        let (stop, clients, name) = (Arc::clone(stop), Arc::clone(clients), name.to_string());
        let backend = Arc::new(Backend {
            path: socket_path,
            gate: Mutex::new(()),
        });
        thread::Builder::new()
            .name("prom-accept".into())
            .spawn(move || accept_loop(listener, &stop, &clients, tls, &backend, &name))
    });
    match accept {
        Ok(accept) => Ok((dispatch, accept)),
        Err(e) => Err((Some(dispatch), e)),
    }
}

impl Service {
    /// The address the endpoint listens on (its port, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, shuts every client connection down and frees the port;
    /// the port can be bound again when this returns. Later calls do nothing.
    pub fn stop(&self) {
        let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        r.stop.store(true, Ordering::SeqCst);
        // On Linux shutting a listening socket down wakes a blocked accept();
        // elsewhere a connection to ourselves does.
        let _ = SockRef::from(&r.listener).shutdown(Shutdown::Both);
        let _ = TcpStream::connect_timeout(&loopback(self.addr), Duration::from_millis(200));
        let _ = r.accept.join();
        drop(r.listener);
        r.clients.shutdown_all();
        r.backend.unblock();
        let _ = r.dispatch.join();
        drop(r.backend);
        let _ = std::fs::remove_dir_all(&r.dir);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Clients {
    /// Registers a client socket; `None` when the endpoint is full.
    fn add(&self, stream: &TcpStream) -> Option<u64> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= MAX_CONNECTIONS {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        open.insert(id, stream.try_clone().ok()?);
        Some(id)
    }

    fn remove(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    fn shutdown_all(&self) {
        for (_, s) in self.open.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: &AtomicBool,
    clients: &Arc<Clients>,
    tls: Option<Arc<rustls::ServerConfig>>,
    backend: &Arc<Backend>,
    name: &str,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let client = match conn {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: breathe, then go on.
                log::warn!("{name} cannot accept a connection: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Some(id) = clients.add(&client) else {
            if !clients.warned_full.swap(true, Ordering::Relaxed) {
                log::warn!("{name} has {MAX_CONNECTIONS} client connections open; refusing more");
            }
            continue;
        };
        let clients = Arc::clone(clients);
        let tls = tls.clone();
        let backend = Arc::clone(backend);
        let who = name.to_string();
        let spawned = thread::Builder::new()
            .name("prom-conn".into())
            .spawn(move || {
                let result = serve_client(&client, tls, &backend);
                if let Err(e) = result {
                    log::debug!("{who} connection ended: {e}");
                }
                let _ = client.shutdown(Shutdown::Both);
                clients.remove(id);
            });
        if let Err(e) = spawned {
            log::warn!("{name} cannot start a connection thread: {e}");
        }
    }
}

fn serve_client(
    client: &TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    backend: &Backend,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    client.set_write_timeout(Some(WRITE_TIMEOUT))?;
    match tls {
        Some(config) => tls::serve(client, config, backend),
        None => {
            client.set_read_timeout(Some(IDLE_TIMEOUT))?;
            let backend = connect_backend(backend)?;
            pump_plain(client, backend)
        }
    }
}

/// Opens a connection to the backend and returns once a tiny_http worker
/// serves it.
///
/// tiny_http 0.12's worker pool (`util/task_pool.rs`) counts a woken worker as
/// still waiting until it runs; a second connection handed over in that moment
/// is queued without waking anyone, and waits until some other connection ends
/// (seconds, with keep-alive scrapers; measured with `examples/scrapers.rs`).
/// Handing connections over one at a time, each confirmed by a probe request
/// that only a running worker can answer, leaves no such moment.
pub(crate) fn connect_backend(backend: &Backend) -> io::Result<UnixStream> {
    let _one_at_a_time = backend.gate.lock().unwrap_or_else(|e| e.into_inner());
    let mut stream = UnixStream::connect(&backend.path)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(PROBE)?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 || seen.len() > 8192 {
            return Err(io::Error::other(
                "the HTTP backend did not answer its probe",
            ));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    stream.set_read_timeout(None)?;
    Ok(stream)
}

/// Copies a plain client's bytes to the backend and the answers back, until
/// either side closes.
fn pump_plain(client: &TcpStream, backend: UnixStream) -> io::Result<()> {
    let down = {
        let mut from = backend.try_clone()?;
        let mut to = client.try_clone()?;
        thread::Builder::new()
            .name("prom-down".into())
            .spawn(move || {
                let _ = io::copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
            })?
    };
    let mut from = client;
    let mut to = &backend;
    let up = copy_until_closed(&mut from, &mut to);
    match up {
        // The client finished sending: let the backend answer, then close.
        Ok(()) => {
            let _ = backend.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = backend.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
        }
    }
    let _ = down.join();
    up
}

/// `io::copy`, but a clean end of input is `Ok` and a timeout an error.
fn copy_until_closed(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}

fn dispatch(backend: &tiny_http::Server, stop: &AtomicBool, name: &str, handler: Handler) {
    loop {
        let request = match backend.recv() {
            Ok(r) => r,
            // `recv` fails once `stop` calls `unblock`.
            Err(_) if stop.load(Ordering::SeqCst) => return,
            // tiny_http ends its accept thread on an accept error (out of file
            // descriptors): this endpoint cannot serve any more.
            Err(e) => {
                log::error!(
                    "{name} HTTP backend failed ({e}); scrapes fail until the sink is reopened \
                     (reload idic)"
                );
                return;
            }
        };
        if *request.method() == tiny_http::Method::Options && request.url() == "*" {
            // The front's probe (or a client's `OPTIONS *`): nothing to say.
            let _ = request.respond(tiny_http::Response::empty(204));
            continue;
        }
        let handler = Arc::clone(&handler);
        // If the thread cannot start, the request is dropped and tiny_http answers 500.
        if let Err(e) = thread::Builder::new()
            .name("prom-request".into())
            .spawn(move || handler(request))
        {
            log::warn!("{name} cannot start a request thread: {e}");
        }
    }
}

/// A fresh folder only this user can enter, for the backend's Unix socket.
fn private_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    remove_stale_dirs(&base);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("idic-prometheus-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            // Left over by an earlier process that had our pid: skip the name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create a private folder in {}: {e}", base.display()),
                ))
            }
        }
    }
}

/// Removes the folders of idic processes that ended without stopping their
/// listeners (killed): where `/proc` shows no process of that pid.
fn remove_stale_dirs(base: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("idic-prometheus-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where to connect to reach a listener bound to `addr` from this machine.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, a.port()).into(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, a.port()).into(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_handler() -> Handler {
        Arc::new(|rq: tiny_http::Request| {
            let body = format!("{} {}", rq.method(), rq.url());
            let _ = rq.respond(tiny_http::Response::from_string(body));
        })
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
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
        let service = start(bind(0).unwrap(), None, "test", echo_handler()).unwrap();
        let port = service.local_addr().port();
        let answer = get(local(port), "/x?y=1");
        assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
        assert!(answer.ends_with("GET /x?y=1"), "{answer}");
        service.stop();
        assert!(TcpStream::connect(local(port)).is_err());
        let again = start(bind(port).unwrap(), None, "test", echo_handler()).unwrap();
        assert!(get(local(port), "/").ends_with("GET /"));
        drop(again);
    }

    #[test]
    fn stop_closes_idle_keep_alive_connections() {
        let service = start(bind(0).unwrap(), None, "test", echo_handler()).unwrap();
        let mut s = TcpStream::connect(local(service.local_addr().port())).unwrap();
        write!(s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        service.stop();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        // The connection ends (EOF or reset) instead of hanging.
        let _ = s.read_to_end(&mut rest);
    }

    #[test]
    fn folders_of_ended_processes_are_swept() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("idic-prometheus-4294967294-0");
        let alive = base
            .path()
            .join(format!("idic-prometheus-{}-7", std::process::id()));
        let other = base.path().join("something-else-1");
        for d in [&dead, &alive, &other] {
            std::fs::create_dir(d).unwrap();
        }
        remove_stale_dirs(base.path());
        assert!(!dead.exists() && alive.exists() && other.exists());
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
