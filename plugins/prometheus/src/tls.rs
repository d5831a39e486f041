//! HTTPS for the endpoints: loading `tls_cert` / `tls_key` into a rustls server
//! configuration, with errors that name the file and the reason. The handshake
//! itself is `server.rs`'s (tokio-rustls).
//!
//! rustls 0.23 with the ring provider, the TLS stack the rest of idic already
//! uses; no OpenSSL, no aws-lc.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

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
