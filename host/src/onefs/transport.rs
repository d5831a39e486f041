//! One HTTPS connection to one cluster: TCP, TLS (rustls), HTTP/1.1 (hyper), all
//! async on the host's runtime. Requests are sequential and reuse the connection
//! (keep-alive); a connection that fails is dropped and the next request opens a
//! new one.
//!
//! Every exchange is bounded: the connection (TCP and TLS) by `connect_timeout`,
//! the whole exchange, body included, by `request_timeout`, the body by
//! [`MAX_BODY`]. A cluster that accepts TCP and never answers therefore costs a
//! socket and a timer, never a thread. What happens after a failure (back-off,
//! retry) is the caller's business: this module makes one attempt, except that a
//! request that fails on a kept-alive connection the cluster had closed is sent
//! once more on a fresh one (GETs and the login are safe to repeat).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::tls::is_certificate_error;
use super::MAX_BODY;
use crate::pool::Pool;

/// The read buffer of a connection, in bytes.
const READ_BUFFER: usize = 8 * 1024;

/// Where and how to connect.
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The TLS settings (shared between clusters).
    pub tls: Arc<ClientConfig>,
    /// TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// One whole exchange.
    pub request_timeout: Duration,
}

/// An answer, read whole.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum Failure {
    /// The cluster could not be reached or the exchange broke off.
    Connection(String),
    /// The cluster's certificate was not accepted.
    Certificate(String),
    /// The body is larger than [`MAX_BODY`].
    TooLarge,
}

/// The connection to one cluster.
pub struct Transport {
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    authority: String,
    resolve: Pool,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Transport {
    /// Prepares a transport; connects on the first request.
    pub fn new(endpoint: Endpoint, resolve: Pool) -> Result<Transport, String> {
        let server_name = ServerName::try_from(endpoint.host.clone())
            .map_err(|e| format!("{:?} is not a host name or address: {e}", endpoint.host))?;
        let authority = if endpoint.host.contains(':') {
            format!("[{}]:{}", endpoint.host, endpoint.port)
        } else {
            format!("{}:{}", endpoint.host, endpoint.port)
        };
        Ok(Transport {
            endpoint,
            server_name,
            authority,
            resolve,
            sender: None,
        })
    }

    /// `host:port` as the `Host` header and in messages.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Sends `request` (origin-form target; the `Host` header is added here) and
    /// reads the whole answer.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Response, Failure> {
        let limit = self.endpoint.request_timeout;
        let result = match tokio::time::timeout(limit, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Connection(format!(
                "no complete answer within request_timeout = {} s",
                limit.as_secs()
            ))),
        };
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn exchange(&mut self, mut request: Request<Full<Bytes>>) -> Result<Response, Failure> {
        let host = hyper::header::HeaderValue::from_str(&self.authority)
            .map_err(|e| Failure::Connection(format!("bad host name: {e}")))?;
        request.headers_mut().insert(hyper::header::HOST, host);
        let reused = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reused {
            self.sender = Some(self.connect().await?);
        }
        let retry = reused.then(|| clone_request(&request));
        match self.round_trip(request).await {
            Err(Failure::Connection(why)) if retry.is_some() => {
                log::debug!(
                    "{} kept-alive connection failed ({why}); sending again on a new one",
                    self.authority
                );
                self.sender = Some(self.connect().await?);
                self.round_trip(retry.expect("checked")).await
            }
            other => other,
        }
    }

    async fn round_trip(&mut self, request: Request<Full<Bytes>>) -> Result<Response, Failure> {
        let sender = self.sender.as_mut().expect("connected before a round trip");
        sender.ready().await.map_err(broken)?;
        let answer = sender.send_request(request).await.map_err(broken)?;
        let (parts, mut body) = answer.into_parts();
        // Each frame is copied into one buffer and freed at once: collecting the
        // frames first would hold every 8 KiB chunk and then a copy of them all.
        let expected = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if expected.is_some_and(|n| n > MAX_BODY) {
            return Err(Failure::TooLarge);
        }
        let mut buf = Vec::with_capacity(expected.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| Failure::Connection(format!("reading the answer: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if (buf.len() + data.len()) as u64 > MAX_BODY {
                    return Err(Failure::TooLarge);
                }
                buf.extend_from_slice(&data);
            }
        }
        let body = Bytes::from(buf);
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// TCP, TLS and the HTTP/1.1 handshake, within `connect_timeout`.
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let limit = self.endpoint.connect_timeout;
        match tokio::time::timeout(limit, self.open()).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Connection(format!(
                "cannot connect to {}: no connection within connect_timeout = {} s",
                self.authority,
                limit.as_secs()
            ))),
        }
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let mut last = None;
        let mut tcp = None;
        for addr in self.addresses().await? {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(tcp) = tcp else {
            let why = last.map_or("no address".to_string(), |e| e.to_string());
            return Err(Failure::Connection(format!(
                "cannot connect to {}: {why}",
                self.authority
            )));
        };
        let _ = tcp.set_nodelay(true);
        let tls = TlsConnector::from(Arc::clone(&self.endpoint.tls))
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| {
                let certificate = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(is_certificate_error);
                if certificate {
                    Failure::Certificate(e.to_string())
                } else {
                    Failure::Connection(format!("TLS handshake with {}: {e}", self.authority))
                }
            })?;
        // A fixed read buffer: hyper's adaptive one grows to about 400 KiB while
        // reading a large answer and keeps that much per connection for good,
        // 400 MiB for a thousand clusters.
        let (sender, connection) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUFFER))
            .handshake(TokioIo::new(tls))
            .await
            .map_err(broken)?;
        let authority = self.authority.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("{authority} connection ended: {e}");
            }
        });
        Ok(sender)
    }

    async fn addresses(&self) -> Result<Vec<SocketAddr>, Failure> {
        let port = self.endpoint.port;
        if let Ok(ip) = self.endpoint.host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let host = self.endpoint.host.clone();
        let looked_up = self
            .resolve
            .run(move || (host.as_str(), port).to_socket_addrs().map(Vec::from_iter))
            .await
            .map_err(|e| Failure::Connection(format!("resolving the host name failed: {e}")))?;
        looked_up.map_err(|e| {
            Failure::Connection(format!("cannot resolve {:?}: {e}", self.endpoint.host))
        })
    }
}

/// A GET or a small POST, copied so that it can be sent again.
fn clone_request(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

fn broken(e: hyper::Error) -> Failure {
    Failure::Connection(format!("the exchange broke off: {e}"))
}
