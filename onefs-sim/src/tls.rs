//! The certificate made at start: a self-signed CA (what clients trust, see
//! `Sim::ca_cert_pem`) and a server certificate it signs for `localhost`, `127.0.0.1`,
//! `::1`, the bind address and any extra names, in a rustls server configuration on
//! the ring provider (set explicitly, never the process default).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS server configuration and the PEM of the CA that signed its certificate.
pub(crate) struct Certs {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

/// The names a certificate for `bind` covers.
pub(crate) fn cert_names(bind: IpAddr, extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !bind.is_unspecified() {
        names.push(bind.to_string());
    }
    names.extend(extra.iter().cloned());
    let mut unique = Vec::new();
    for n in names {
        if !unique.contains(&n) {
            unique.push(n);
        }
    }
    unique
}

/// Generates a CA and a server certificate for `names`.
pub(crate) fn generate(names: &[String]) -> io::Result<Certs> {
    let err =
        |what: &str, e: rcgen::Error| io::Error::other(format!("cannot generate the {what}: {e}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA certificate", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "onefs-sim test CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "onefs-sim");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let ca =
        CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| err("CA certificate", e))?;

    let mut params =
        CertificateParams::new(names.to_vec()).map_err(|e| err("server certificate", e))?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "onefs-sim");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(|e| err("server key", e))?;
    let cert = params
        .signed_by(&key, &ca)
        .map_err(|e| err("server certificate", e))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(|e| io::Error::other(format!("TLS setup: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Certs {
        ca_pem: ca.pem(),
        config: Arc::new(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_bind_address() {
        let names = cert_names(
            "10.1.2.3".parse().unwrap(),
            &["sim.example".into(), "localhost".into()],
        );
        assert_eq!(
            names,
            ["localhost", "127.0.0.1", "::1", "10.1.2.3", "sim.example"]
        );
        assert_eq!(cert_names("0.0.0.0".parse().unwrap(), &[]).len(), 3);
    }

    #[test]
    fn generates_a_ca_pem() {
        let certs = generate(&cert_names("127.0.0.1".parse().unwrap(), &[])).unwrap();
        assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
