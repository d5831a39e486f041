//! HTTPS for the endpoints: loading `tls_cert` / `tls_key` into a rustls server
//! configuration, and serving one client connection through TLS (handshake with
//! a timeout, then decrypting toward the private HTTP backend and encrypting its
//! answers back).
//!
//! rustls 0.23 with the ring provider, the TLS stack the rest of idic already
//! uses; no OpenSSL and no rustls 0.20 (see `http.rs` for why not `tiny_http`'s
//! own TLS).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

use crate::http::{connect_backend, Backend, HANDSHAKE_TIMEOUT, IDLE_TIMEOUT};

/// Reads a PEM certificate chain and its PEM private key. The error says which
/// file failed and why, never what the key holds.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("tls_cert {}: {}", cert.display(), pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!(
            "tls_cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("tls_key {}: {}", key.display(), pem_error(e)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| {
            format!(
                "tls_cert {} and tls_key {} do not make a usable pair: {e}",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves one client: the handshake (bounded by [`HANDSHAKE_TIMEOUT`]), then
/// bytes both ways between the client and the backend until either closes.
pub(crate) fn serve(
    client: &TcpStream,
    config: Arc<ServerConfig>,
    backend: &Backend,
) -> io::Result<()> {
    let mut conn = ServerConnection::new(config).map_err(io::Error::other)?;
    client.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut wire = client;
    while conn.is_handshaking() {
        let (read, _) = conn.complete_io(&mut wire)?;
        if read == 0 && conn.is_handshaking() && !conn.wants_write() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client left during the TLS handshake",
            ));
        }
    }
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let backend = connect_backend(backend)?;
    let conn = Arc::new(Mutex::new(conn));

    let down = {
        let conn = Arc::clone(&conn);
        let from = backend.try_clone()?;
        let to = client.try_clone()?;
        thread::Builder::new()
            .name("prom-tls-down".into())
            .spawn(move || answers_to_client(&conn, from, to))?
    };
    let up = requests_to_backend(&conn, client, &backend);
    match up {
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

/// Reads TLS records from the client, decrypts them and forwards the plaintext.
/// `Ok` when the client closed cleanly.
fn requests_to_backend(
    conn: &Mutex<ServerConnection>,
    client: &TcpStream,
    mut backend: &UnixStream,
) -> io::Result<()> {
    let mut wire = client;
    let mut buf = vec![0u8; 16 * 1024];
    let mut plain = Vec::new();
    // The handshake's last read may already have brought the first request.
    let mut input_len = 0;
    loop {
        let closed = decrypt(conn, client, &buf[..input_len], &mut plain)?;
        if !plain.is_empty() {
            backend.write_all(&plain)?;
            plain.clear();
        }
        if closed {
            return Ok(());
        }
        input_len = loop {
            match wire.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
    }
}

/// Feeds `input` to rustls, appends all plaintext it then holds to `plain` and
/// sends what it wants sent. Returns whether the client has closed the session.
fn decrypt(
    conn: &Mutex<ServerConnection>,
    client: &TcpStream,
    mut input: &[u8],
    plain: &mut Vec<u8>,
) -> io::Result<bool> {
    let mut c = lock(conn);
    let mut closed = false;
    loop {
        if !input.is_empty() {
            c.read_tls(&mut input)?;
        }
        let state = match c.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Send the alert rustls prepared, then give up.
                let _ = flush(&mut c, client);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        let pending = state.plaintext_bytes_to_read();
        closed |= state.peer_has_closed();
        if pending > 0 {
            let start = plain.len();
            plain.resize(start + pending, 0);
            c.reader().read_exact(&mut plain[start..])?;
        }
        if input.is_empty() {
            break;
        }
    }
    flush(&mut c, client)?;
    Ok(closed)
}

/// Reads the backend's answers, encrypts them and writes them to the client;
/// ends the TLS session and the connection when the backend closes.
fn answers_to_client(conn: &Mutex<ServerConnection>, mut from: UnixStream, to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    'read: loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut rest = &buf[..n];
        let mut c = lock(conn);
        while !rest.is_empty() {
            let taken = match c.writer().write(rest) {
                Ok(k) => k,
                Err(_) => break 'read,
            };
            if flush(&mut c, &to).is_err() {
                break 'read;
            }
            if taken == 0 {
                break 'read;
            }
            rest = &rest[taken..];
        }
    }
    let mut c = lock(conn);
    c.send_close_notify();
    let _ = flush(&mut c, &to);
    drop(c);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Writes every TLS record rustls has ready.
fn flush(conn: &mut ServerConnection, mut to: &TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(&mut to)?;
    }
    Ok(())
}

fn lock(conn: &Mutex<ServerConnection>) -> MutexGuard<'_, ServerConnection> {
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot be read: {e}"),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key \
             (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY) in the file"
            .to_string(),
        other => format!("is not valid PEM: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let c = dir.join("cert.pem");
        let k = dir.join("key.pem");
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    #[test]
    fn a_certificate_and_key_pair_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = pair(dir.path());
        let config = server_config(&c, &k).unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn errors_name_the_setting_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = pair(dir.path());
        let missing = dir.path().join("missing.pem");
        let err = server_config(&missing, &k).unwrap_err();
        assert!(
            err.starts_with("tls_cert ") && err.contains("cannot be read"),
            "{err}"
        );
        let err = server_config(&c, &missing).unwrap_err();
        assert!(
            err.starts_with("tls_key ") && err.contains("cannot be read"),
            "{err}"
        );
        // A key file given as the certificate holds no certificate, and vice versa.
        let err = server_config(&k, &k).unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
        let err = server_config(&c, &c).unwrap_err();
        assert!(err.contains("no PEM private key"), "{err}");
        // A key that does not belong to the certificate.
        let other = tempfile::tempdir().unwrap();
        let (_, other_key) = pair(other.path());
        let err = server_config(&c, &other_key).unwrap_err();
        assert!(err.contains("do not make a usable pair"), "{err}");
    }
}
