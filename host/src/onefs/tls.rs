//! TLS client settings toward clusters, built once and shared: one config that
//! trusts the built-in web roots, one that verifies nothing (`verify-ssl =
//! false`), and one per `ca_cert` file. A thousand clusters share a handful of
//! configs (and their session caches) instead of building one each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::Error;

/// The configs of one running configuration, built on first use.
#[derive(Default)]
pub struct TlsConfigs {
    web_roots: Mutex<Option<Arc<ClientConfig>>>,
    unverified: Mutex<Option<Arc<ClientConfig>>>,
    by_ca_file: Mutex<HashMap<PathBuf, Arc<ClientConfig>>>,
}

impl TlsConfigs {
    /// The config for a cluster: `ca_cert` when set, else the web roots, or no
    /// verification at all when `verify` is false.
    pub fn get(&self, verify: bool, ca_cert: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
        if !verify {
            return Ok(cached(&self.unverified, || {
                let provider = provider();
                let verifier = Arc::new(NoVerification(Arc::clone(&provider)));
                finish(
                    builder(provider)
                        .dangerous()
                        .with_custom_certificate_verifier(verifier),
                )
            }));
        }
        match ca_cert {
            None => Ok(cached(&self.web_roots, || {
                let mut roots = RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                finish(builder(provider()).with_root_certificates(roots))
            })),
            Some(path) => {
                let mut map = self.by_ca_file.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = map.get(path) {
                    return Ok(Arc::clone(c));
                }
                let config = Arc::new(finish(
                    builder(provider()).with_root_certificates(read_ca_file(path)?),
                ));
                map.insert(path.to_path_buf(), Arc::clone(&config));
                Ok(config)
            }
        }
    }
}

/// Whether a TLS failure is the peer's certificate (an operator fixes it with
/// `ca_cert`) rather than the connection.
pub fn is_certificate_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
    )
}

fn cached(
    slot: &Mutex<Option<Arc<ClientConfig>>>,
    make: impl FnOnce() -> ClientConfig,
) -> Arc<ClientConfig> {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(slot.get_or_insert_with(|| Arc::new(make())))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder(
    provider: Arc<CryptoProvider>,
) -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
}

fn finish(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> ClientConfig {
    builder.with_no_client_auth()
}

/// The certificates of a PEM file, as trust anchors.
fn read_ca_file(path: &Path) -> Result<RootCertStore, Error> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::Tls(format!("cannot read ca_cert {}: {e}", path.display())))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("ca_cert {}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(Error::Tls(format!(
            "ca_cert {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// `verify-ssl = false`: any certificate is accepted, but the handshake's
/// signatures are still checked against it.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_share_one_config_per_kind() {
        let configs = TlsConfigs::default();
        let a = configs.get(true, None).unwrap();
        let b = configs.get(true, None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = configs.get(false, None).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&c, &configs.get(false, None).unwrap()));
    }

    #[test]
    fn an_unreadable_or_empty_ca_file_names_the_file() {
        let configs = TlsConfigs::default();
        let e = configs
            .get(true, Some(Path::new("/nonexistent/ca.pem")))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot read ca_cert /nonexistent/ca.pem"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("idic-tls-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        let e = configs.get(true, Some(&dir)).unwrap_err();
        std::fs::remove_file(&dir).unwrap();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
    }
}
