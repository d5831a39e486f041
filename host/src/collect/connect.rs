//! The OneFS connect sequence of one cluster: a [`Client`] from its
//! `[[cluster]]` table, then the cluster's identity and every configured key's
//! metadata (once per connection).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AuthType, Config};
use crate::onefs::{self, Client, Endpoint, Identity, KeyMeta, Target, TlsConfigs, Transport};
use crate::pool::Pool;

/// A cluster that answered: its client, name and key metadata.
pub struct Connected {
    /// The client, logged in.
    pub client: Client,
    /// The cluster's name as tagged: lower-cased unless `preserve_case`.
    pub name: String,
    /// What the cluster says about itself.
    pub identity: Identity,
    /// The metadata of every configured key the cluster knows.
    pub metas: HashMap<String, KeyMeta>,
}

/// A client for cluster `index` of `config`. Fails only on a setting that cannot
/// work (an unset secret, an unreadable `ca_cert`, a host name that is no name).
pub fn client(
    config: &Config,
    index: usize,
    tls: &TlsConfigs,
    resolve: &Pool,
) -> Result<Client, onefs::Error> {
    let c = &config.clusters[index];
    let g = &config.global;
    let password = crate::config::resolve_secret(&c.password).map_err(onefs::Error::Auth)?;
    let label = format!("{}:{}", c.hostname, c.port);
    let endpoint = Endpoint {
        host: c.hostname.clone(),
        port: c.port,
        tls: tls.get(c.verify_ssl, c.ca_cert.as_deref())?,
        connect_timeout: Duration::from_secs(g.connect_timeout.max(1)),
        request_timeout: Duration::from_secs(g.request_timeout.max(1)),
    };
    let transport = Transport::new(endpoint, resolve.clone()).map_err(onefs::Error::Unreachable)?;
    let target = Target {
        username: c.username.clone(),
        password,
        basic_auth: c.authtype == AuthType::Basic,
        label,
    };
    Ok(Client::new(target, transport))
}

/// Reads the identity and the metadata of every configured key.
pub async fn connect(
    mut client: Client,
    config: Arc<Config>,
    index: usize,
) -> Result<Connected, (Client, onefs::Error)> {
    let identity = match client.identity().await {
        Ok(i) => i,
        Err(e) => return Err((client, e)),
    };
    let name = if config.preserve_case(&config.clusters[index]) {
        identity.name.clone()
    } else {
        identity.name.to_lowercase()
    };
    client.set_label(&name);
    let mut metas = HashMap::new();
    let keys: BTreeSet<&String> = config.stat_groups.iter().flat_map(|g| &g.stats).collect();
    for key in keys {
        match client.key_meta(key).await {
            Ok(Some(m)) => {
                metas.insert(key.clone(), m);
            }
            Ok(None) => log::warn!(
                "cluster={name} statistic {key:?} is not known to this cluster ({}); it is left out",
                identity.version
            ),
            Err(e) => return Err((client, e)),
        }
    }
    Ok(Connected {
        client,
        name,
        identity,
        metas,
    })
}
