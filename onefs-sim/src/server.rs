//! Sockets and threads: one accept thread per cluster port, one thread per connection
//! (HTTPS via rustls `StreamOwned`, or plain HTTP), keep-alive request loops, fault
//! application (latency, dropped connections, injected errors, malformed bodies), and
//! a cluster going down (listener closed, connections cut) and up (same port again).
//!
//! Blocking std I/O only: an idle connection costs a parked thread, not CPU. The accept
//! thread is woken for state changes by a loopback connection to its own port.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::api;
use crate::control;
use crate::faults::{
    lock, FaultState, Malformed, Verdict, HUGE_BODY_BYTES, OVERSIZED_BODY_BYTES, SLOW_BODY_PACE,
};
use crate::http::{self, Incoming};
use crate::record::LoggedRequest;
use crate::response::{write_response, Body, Response};
use crate::state::{ClusterState, SimShared};

const CONN_STACK: usize = 512 * 1024;
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Up/down state of a cluster's listener, shared with its accept thread.
pub(crate) struct ListenerCtl {
    addr: SocketAddr,
    state: Mutex<ListenState>,
    changed: Condvar,
}

struct ListenState {
    want_down: bool,
    is_down: bool,
    shutdown: bool,
}

/// Open connections of a cluster, so they can be cut.
#[derive(Default)]
pub(crate) struct ConnRegistry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, TcpStream>>,
    active: AtomicUsize,
}

/// How a connection's request loop ended.
enum End {
    Close,
    /// Fault injection: cut without an answer.
    Drop,
    /// Fault injection: reset (RST) mid-answer.
    Reset,
}

impl ListenerCtl {
    pub(crate) fn new(addr: SocketAddr) -> ListenerCtl {
        ListenerCtl {
            addr,
            state: Mutex::new(ListenState {
                want_down: false,
                is_down: false,
                shutdown: false,
            }),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn is_down(&self) -> bool {
        lock(&self.state).is_down
    }

    /// Asks for down or up and waits (up to 5 s) until the accept thread complies.
    pub(crate) fn set_down(&self, down: bool) {
        {
            let mut st = lock(&self.state);
            if st.shutdown || (st.want_down == down && st.is_down == down) {
                return;
            }
            st.want_down = down;
            self.changed.notify_all();
        }
        if down {
            self.wake();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut st = lock(&self.state);
        while st.is_down != down && !st.shutdown {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                log::warn!(
                    "cluster listener on {} did not go {} in time",
                    self.addr,
                    if down { "down" } else { "up" }
                );
                return;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops the accept thread for good.
    pub(crate) fn shutdown(&self) {
        let was_up = {
            let mut st = lock(&self.state);
            st.shutdown = true;
            self.changed.notify_all();
            !st.is_down
        };
        if was_up {
            self.wake();
        }
    }

    /// Unblocks `accept` with a throw-away loopback connection.
    fn wake(&self) {
        let ip = match self.addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let _ = TcpStream::connect_timeout(
            &SocketAddr::new(ip, self.addr.port()),
            Duration::from_secs(1),
        );
    }
}

impl ConnRegistry {
    fn register(&self, stream: &TcpStream) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&self.open).insert(id, clone);
        }
        id
    }

    fn unregister(&self, id: u64) {
        lock(&self.open).remove(&id);
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// Cuts every open connection.
    pub(crate) fn close_all(&self) {
        for stream in lock(&self.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Connection threads still running.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

/// Starts the accept thread of cluster `index` on its bound `listener`.
pub(crate) fn spawn_acceptor(
    sim: Arc<SimShared>,
    index: usize,
    listener: TcpListener,
) -> io::Result<JoinHandle<()>> {
    let name = format!("sim-accept-{}", sim.clusters[index].spec.name);
    std::thread::Builder::new()
        .name(name)
        .stack_size(128 * 1024)
        .spawn(move || accept_loop(&sim, index, listener))
}

fn accept_loop(sim: &Arc<SimShared>, index: usize, listener: TcpListener) {
    let cluster = &sim.clusters[index];
    let ctl = &cluster.listener;
    let mut listener = Some(listener);
    loop {
        {
            let mut st = lock(&ctl.state);
            loop {
                if st.shutdown {
                    return;
                }
                if st.want_down {
                    if listener.take().is_some() {
                        cluster.conns.close_all();
                        log::info!("cluster {} is down", cluster.spec.name);
                    }
                    st.is_down = true;
                    ctl.changed.notify_all();
                    st = ctl.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                if listener.is_none() {
                    match TcpListener::bind(ctl.addr) {
                        Ok(l) => {
                            log::info!("cluster {} is up again on {}", cluster.spec.name, ctl.addr);
                            listener = Some(l);
                        }
                        Err(e) => {
                            log::warn!(
                                "cluster {}: cannot listen on {} again: {e}",
                                cluster.spec.name,
                                ctl.addr
                            );
                            st = ctl
                                .changed
                                .wait_timeout(st, Duration::from_millis(200))
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                            continue;
                        }
                    }
                }
                if st.is_down {
                    st.is_down = false;
                    ctl.changed.notify_all();
                }
                break;
            }
        }
        let Some(l) = listener.as_ref() else { continue };
        match l.accept() {
            Ok((stream, _)) => {
                let st = lock(&ctl.state);
                if st.shutdown || st.want_down {
                    continue;
                }
                drop(st);
                let (sim, cluster) = (sim.clone(), cluster.clone());
                let spawned = std::thread::Builder::new()
                    .name("sim-conn".into())
                    .stack_size(CONN_STACK)
                    .spawn(move || serve_connection(&sim, &cluster, stream));
                if let Err(e) = spawned {
                    log::error!("cannot start a connection thread: {e}");
                }
            }
            Err(e) => {
                log::warn!("cluster {}: accept failed: {e}", cluster.spec.name);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn serve_connection(sim: &SimShared, cluster: &Arc<ClusterState>, tcp: TcpStream) {
    cluster.recorder.count(|c| c.connections += 1);
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(sim.keep_alive_timeout));
    let _ = tcp.set_write_timeout(Some(WRITE_TIMEOUT));
    let _registered = Registered {
        conns: &cluster.conns,
        id: cluster.conns.register(&tcp),
    };
    match cluster.tls.as_ref().or(sim.tls.as_ref()) {
        Some(config) => serve_tls(sim, cluster, tcp, config.clone()),
        None => {
            let mut tcp = tcp;
            match serve_http(sim, cluster, &mut tcp) {
                End::Close => {}
                End::Drop => {
                    let _ = tcp.shutdown(Shutdown::Both);
                }
                End::Reset => reset(&tcp),
            }
        }
    }
}

/// Unregisters a connection when its thread ends, even by panic.
struct Registered<'a> {
    conns: &'a ConnRegistry,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.conns.unregister(self.id);
    }
}

fn serve_tls(
    sim: &SimShared,
    cluster: &Arc<ClusterState>,
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
) {
    let mut first = [0u8; 1];
    match tcp.peek(&mut first) {
        Ok(1) if first[0] != 0x16 => {
            // Plain HTTP on the TLS port: answer in clear text, as Apache does.
            cluster.recorder.count(|c| c.tls_failures += 1);
            let response = Response::html(
                400,
                "You're speaking plain HTTP to an SSL-enabled server port.",
            )
            .closing();
            let _ = write_response(&mut tcp, &response, false, false);
            return;
        }
        Ok(1) => {}
        _ => return,
    }
    let conn = match rustls::ServerConnection::new(config) {
        Ok(c) => c,
        Err(e) => {
            log::error!("TLS setup failed: {e}");
            return;
        }
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            if e.kind() != io::ErrorKind::UnexpectedEof && !http::is_timeout(&e) {
                log::debug!("cluster {}: TLS handshake failed: {e}", cluster.spec.name);
                cluster.recorder.count(|c| c.tls_failures += 1);
            }
            return;
        }
    }
    match serve_http(sim, cluster, &mut stream) {
        End::Close => {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
        End::Drop => {
            let _ = stream.sock.shutdown(Shutdown::Both);
        }
        End::Reset => reset(&stream.sock),
    }
}

/// Makes the connection end with a TCP reset: lingering off, so the close (when
/// the last handle, the registry's, goes) sends RST instead of FIN.
fn reset(tcp: &TcpStream) {
    let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
}

/// The request loop of one connection.
fn serve_http<S: Read + Write>(
    sim: &SimShared,
    cluster: &Arc<ClusterState>,
    stream: &mut S,
) -> End {
    let mut buf = Vec::new();
    loop {
        if sim.shutdown.load(Ordering::Relaxed) {
            return End::Close;
        }
        let incoming = match http::read_request(stream, &mut buf) {
            Ok(i) => i,
            Err(_) => return End::Close,
        };
        let req = match incoming {
            Incoming::Closed => return End::Close,
            Incoming::Reject {
                response,
                method,
                target,
                headers,
            } => {
                let mut entry = LoggedRequest::new(&method, &target, &headers);
                entry.status = response.status;
                entry.response_bytes = response.body_len();
                cluster.recorder.record(entry);
                let _ = write_response(stream, &response, false, false);
                return End::Close;
            }
            Incoming::Request(req) => req,
        };
        let started = Instant::now();
        let head_only = req.method == "HEAD";
        if req.path == "/sim" || req.path.starts_with("/sim/") {
            let response = control::handle(sim, cluster, &req);
            if write_response(stream, &response, req.keep_alive(), head_only).is_err()
                || !req.keep_alive()
            {
                return End::Close;
            }
            continue;
        }
        let mut entry = LoggedRequest::new(&req.method, &req.target, &req.headers);
        let (latency, verdict) = cluster.faults.decide();
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let response = match verdict {
            Verdict::Drop => {
                cluster.recorder.count(|c| c.dropped += 1);
                entry.elapsed = started.elapsed();
                cluster.recorder.record(entry);
                return End::Drop;
            }
            Verdict::Fail(status) => {
                cluster.recorder.count(|c| c.injected_errors += 1);
                injected_error(status)
            }
            Verdict::Serve(malformed) => {
                let now = cluster.now() + cluster.faults.clock_offset();
                entry.clock = Some(now);
                let response = api::handle(sim, cluster, &req, now);
                match malformed {
                    Some(m) if req.path.starts_with("/platform/") && response.status < 300 => {
                        cluster.recorder.count(|c| c.malformed += 1);
                        cluster.faults.malformed_applied();
                        malform(response, m, &cluster.faults)
                    }
                    _ => response,
                }
            }
        };
        let keep = req.keep_alive() && !response.close && !sim.shutdown.load(Ordering::Relaxed);
        // Recorded before answering, so a client that has its answer sees it counted.
        entry.status = response.status;
        entry.response_bytes = response.body_len();
        entry.elapsed = started.elapsed();
        cluster.recorder.record(entry);
        let written = write_response(stream, &response, keep, head_only);
        if matches!(response.body, Body::Cut(_)) {
            return End::Reset;
        }
        if written.is_err() || !keep || matches!(response.body, Body::Unsized { .. }) {
            return End::Close;
        }
    }
}

fn injected_error(status: u16) -> Response {
    if status == 503 {
        Response::html(503, "The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.")
    } else {
        Response::errors(
            status,
            "AEC_EXCEPTION",
            "Internal error: the statistics service failed to respond (simulated)",
        )
    }
}

fn malform(response: Response, how: Malformed, faults: &FaultState) -> Response {
    let Body::Bytes(body) = response.body else {
        return response;
    };
    let body = match how {
        Malformed::TruncatedJson => {
            let mut body = body;
            body.truncate(body.len() / 2);
            Body::Bytes(body)
        }
        Malformed::HtmlPage => return Response::bytes(
            200,
            "text/html",
            b"<html><head><title>Error</title></head><body><h1>Error</h1><p>The request could not be processed.</p></body></html>\n".to_vec(),
        ),
        Malformed::HugeBody => Body::Huge { prefix: b"{\"stats\":[],\"padding\":\"".to_vec(), fill: HUGE_BODY_BYTES, suffix: b"\"}".to_vec() },
        Malformed::WrongTypes => Body::Bytes(wrong_types(&body)),
        Malformed::RandomBytes => {
            let mut out = Vec::with_capacity(body.len().max(64) + 8);
            while out.len() < body.len().max(64) {
                out.extend_from_slice(&faults.next_u64().to_le_bytes());
            }
            Body::Bytes(out)
        }
        Malformed::Oversized => Body::Unsized { fill: OVERSIZED_BODY_BYTES },
        Malformed::SlowBody => Body::Slow { bytes: body, pace: SLOW_BODY_PACE },
        Malformed::ResetMidBody => Body::Cut(body),
    };
    Response { body, ..response }
}

/// The answer with values of the wrong type: each statistics entry's non-null
/// `value` in turn a string, a list of strings, an object of strings; every number
/// in a summary row a string. Other answers are left as they are.
fn wrong_types(body: &[u8]) -> Vec<u8> {
    use serde_json::{json, Value};
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let Some(obj) = v.as_object_mut() else {
        return body.to_vec();
    };
    if let Some(Value::Array(stats)) = obj.get_mut("stats") {
        for (i, entry) in stats.iter_mut().enumerate() {
            if let Some(value) = entry.get_mut("value").filter(|v| !v.is_null()) {
                *value = match i % 3 {
                    0 => json!("n/a"),
                    1 => json!(["n/a", "unknown"]),
                    _ => json!({"state": "unknown"}),
                };
            }
        }
    } else {
        for rows in obj.values_mut().filter_map(Value::as_array_mut) {
            for field in rows
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .flat_map(|r| r.values_mut())
            {
                if field.is_number() {
                    *field = json!(field.to_string());
                }
            }
        }
    }
    v.to_string().into_bytes()
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
