//! From a checked `[influxdbv2]` section to a connected write path: resolves the
//! token secret, builds the shared line-protocol client for the InfluxDB 2.x
//! write API (`POST /api/v2/write?org=&bucket=&precision=s` with
//! `Authorization: Token <token>`) and pings the server once, logging the answer.

use std::time::Duration;

use idic_lineproto::{Client, ClientConfig, Destination, LineSink};
use idic_plugin_api::{HostServices, SinkError};

use crate::config::Config;

/// The write path of one cluster's sink, after a start-up ping whose result is
/// logged (a server that is down is not an error: the host queues and retries).
pub fn connect(config: &Config, cluster: &str, host: &HostServices) -> Result<LineSink, SinkError> {
    let client = Client::new(client_config(config, host)?);
    let sink = LineSink::new(cluster, client, config.max_request_bytes);
    sink.ping_and_log();
    Ok(sink)
}

/// The token, resolved: an unset `$env:` variable or an empty value is a
/// configuration error.
pub fn token(config: &Config, host: &HostServices) -> Result<String, SinkError> {
    let token = host
        .secret(&config.access_token.0)
        .map_err(|e| SinkError::config(format!("[influxdbv2] access_token: {e}")))?;
    if token.is_empty() {
        return Err(SinkError::config(
            "[influxdbv2] access_token is empty: give an API token that may write to the bucket",
        ));
    }
    Ok(token)
}

/// `control("ping")` for `idic doctor`: is the server up (`/ping` needs no
/// token, so none is resolved).
pub fn ping(config: &Config) -> Result<String, SinkError> {
    idic_lineproto::sink::ping_for_doctor(settings(config, String::new())?)
}

/// The client settings, with the token resolved.
fn client_config(config: &Config, host: &HostServices) -> Result<ClientConfig, SinkError> {
    settings(config, token(config, host)?)
}

fn settings(config: &Config, token: String) -> Result<ClientConfig, SinkError> {
    Ok(ClientConfig {
        base_url: config.base_url().map_err(SinkError::config)?,
        destination: Destination::V2 {
            org: config.org.clone(),
            bucket: config.bucket.clone(),
            token,
        },
        skip_ssl_verify: config.skip_ssl_verify,
        timeout: Duration::from_secs(config.timeout),
        gzip: config.gzip(),
        user_agent: format!("idic-influxdbv2/{}", env!("CARGO_PKG_VERSION")),
    })
}
