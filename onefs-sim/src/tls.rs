//! The certificate made at start: a self-signed CA (what clients trust, see
//! `Sim::ca_cert_pem`) and a server certificate it signs for `localhost`, `127.0.0.1`,
//! `::1`, the bind address and any extra names, in a rustls server configuration on
//! the ring provider (set explicitly, never the process default). A cluster may
//! instead serve a certificate from the same CA whose validity ends a given number
//! of days from start (negative: already ended), to test clients' expiry checks.

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
    ca: CertifiedIssuer<'static, KeyPair>,
    names: Vec<String>,
}

impl Certs {
    /// A server configuration for the same names whose certificate, signed by the
    /// same CA, is valid from a year before its end until midnight UTC `days` days
    /// from now (negative: already expired).
    pub(crate) fn ending_in(&self, days: i64) -> io::Result<Arc<rustls::ServerConfig>> {
        let end = unix_now().div_euclid(86_400) + days;
        server_config(&self.names, &self.ca, Some((end - 365, end)))
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn err(what: &str, e: rcgen::Error) -> io::Error {
    io::Error::other(format!("cannot generate the {what}: {e}"))
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

    let config = server_config(names, &ca, None)?;
    Ok(Certs {
        ca_pem: ca.pem(),
        config,
        ca,
        names: names.to_vec(),
    })
}

/// A server configuration with a certificate for `names` signed by `ca`, valid
/// for rcgen's default span or between the given days since 1970 (midnight UTC).
fn server_config(
    names: &[String],
    ca: &CertifiedIssuer<'static, KeyPair>,
    validity: Option<(i64, i64)>,
) -> io::Result<Arc<rustls::ServerConfig>> {
    let mut params =
        CertificateParams::new(names.to_vec()).map_err(|e| err("server certificate", e))?;
    if let Some((from, to)) = validity {
        let ((fy, fm, fd), (ty, tm, td)) = (ymd(from), ymd(to));
        params.not_before = rcgen::date_time_ymd(fy, fm, fd);
        params.not_after = rcgen::date_time_ymd(ty, tm, td);
    }
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
        .signed_by(&key, ca)
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
    Ok(Arc::new(config))
}

/// (year, month, day) of `days` since 1970-01-01 (Howard Hinnant's
/// civil-from-days).
fn ymd(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
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
        assert!(certs.ending_in(-3).is_ok());
    }

    #[test]
    fn days_become_calendar_dates() {
        assert_eq!(ymd(0), (1970, 1, 1));
        assert_eq!(ymd(-1), (1969, 12, 31));
        assert_eq!(ymd(11_016), (2000, 2, 29));
        assert_eq!(ymd(20_788), (2026, 12, 1));
    }
}
