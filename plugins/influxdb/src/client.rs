//! From a checked `[influxdb]` section to a connected write path: resolves the
//! password secret, builds the shared line-protocol client for InfluxDB 1.x
//! (`POST /write?db=<database>&precision=s`, HTTP Basic auth when
//! `authenticated`) and pings the server once, logging the answer.

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

/// `control("ping")` for `idic doctor`: is the server up (no credentials needed).
pub fn ping(config: &Config) -> Result<String, SinkError> {
    idic_lineproto::sink::ping_for_doctor(settings(config, None)?)
}

/// The client settings, with the password resolved.
fn client_config(config: &Config, host: &HostServices) -> Result<ClientConfig, SinkError> {
    let credentials = if config.authenticated {
        let password = host
            .secret(&config.password.0)
            .map_err(|e| SinkError::config(format!("[influxdb] password: {e}")))?;
        Some((config.username.clone(), password))
    } else {
        None
    };
    settings(config, credentials)
}

fn settings(
    config: &Config,
    credentials: Option<(String, String)>,
) -> Result<ClientConfig, SinkError> {
    Ok(ClientConfig {
        base_url: config.base_url().map_err(SinkError::config)?,
        destination: Destination::V1 {
            database: config.database.clone(),
            credentials,
        },
        skip_ssl_verify: config.skip_ssl_verify,
        timeout: Duration::from_secs(config.timeout),
        gzip: config.gzip(),
        user_agent: format!("idic-influxdb/{}", env!("CARGO_PKG_VERSION")),
    })
}
