//! The partitioned-performance source: every `interval`, discover the
//! cluster's datasets (`GET /platform/10/performance/datasets`), then read each
//! dataset's workloads (`GET /platform/10/statistics/summary/workload?dataset=
//! <name>&nodes=all&degraded=true`, top-N, pinned and overflow rows), as
//! goppstats does, one request per turn of the cluster's loop. Discovery runs
//! every interval, so a dataset or workload added on the cluster appears within
//! one interval. With `lookup_export_ids`, the NFS export ids of a dataset's
//! rows that this cluster's cache does not know yet are looked up in the same
//! turn (`GET /platform/1/protocols/nfs/exports/<id>`, `perf_exports.rs`;
//! normally only in the first run), and the points get `export_path`.

use std::time::Duration;

use super::perf_exports::{self, ExportPaths};
use super::perf_points::{self, Dataset};
use super::{deliver, Outlet, Ran};
use crate::config::PartitionedPerformance;
use crate::onefs::Client;

const DATASETS_PATH: &str = "/platform/10/performance/datasets";
/// goppstats' export lookup (`isilon_api.go` `exportPath`), then `/<id>`.
const EXPORTS_PATH: &str = "/platform/1/protocols/nfs/exports";

/// One cluster's partitioned-performance source.
pub struct PerfSource {
    settings: PartitionedPerformance,
    /// The datasets still to read in this run (none: discover first).
    pending: Option<Vec<Dataset>>,
    /// The kind of failure last logged at error level.
    failing: Option<String>,
    /// The cluster's export id -> path cache (`lookup_export_ids`).
    exports: ExportPaths,
    /// The kind of export lookup failure last logged at error level.
    export_failing: Option<String>,
}

impl PerfSource {
    pub fn new(settings: PartitionedPerformance) -> PerfSource {
        PerfSource {
            settings,
            pending: None,
            failing: None,
            exports: ExportPaths::default(),
            export_failing: None,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.settings.interval.max(1))
    }

    /// One request: the discovery, or one dataset's workloads.
    pub async fn run(&mut self, client: &mut Client, out: &Outlet<'_>) -> Ran {
        let cluster = out.cluster;
        if self.pending.is_none() {
            // A new discovery: failed export lookups are tried again.
            self.exports.forget_failures();
        }
        let result = match self.pending.take() {
            None => match client.get(DATASETS_PATH).await {
                Ok(body) => match perf_points::datasets(&body) {
                    Ok(list) if list.is_empty() => Ok(Ran::Done),
                    Ok(list) => {
                        log::debug!("cluster={cluster} {} performance datasets", list.len());
                        self.pending = Some(list);
                        Ok(Ran::More)
                    }
                    Err(e) => Err((
                        "malformed".to_string(),
                        format!(
                            "GET {DATASETS_PATH} answered a body that is not a dataset list: {e}"
                        ),
                    )),
                },
                Err(e) if e.is_connection() => {
                    return Ran::Unreachable {
                        source: "partitioned performance",
                        error: e,
                    }
                }
                Err(e) => Err((kind(&e), format!("cannot list performance datasets: {e}"))),
            },
            Some(mut list) => {
                let dataset = list.remove(0);
                let path = format!(
                    "/platform/10/statistics/summary/workload?dataset={}&nodes=all&degraded=true",
                    super::quotas::percent_encode(&dataset.name)
                );
                let more = if list.is_empty() {
                    Ran::Done
                } else {
                    Ran::More
                };
                if !list.is_empty() {
                    self.pending = Some(list);
                }
                match client.get(&path).await {
                    Ok(body) => match perf_points::workload_points(cluster, &dataset, &body) {
                        Ok(mut points) => {
                            if self.settings.lookup_export_ids {
                                if let Err(error) = self.look_up_exports(client, out, &points).await
                                {
                                    self.pending = None;
                                    return Ran::Unreachable {
                                        source: "partitioned performance",
                                        error,
                                    };
                                }
                                self.exports.tag(&mut points);
                            }
                            deliver(out, points);
                            Ok(more)
                        }
                        Err(e) => Err((
                            "malformed".into(),
                            format!("GET {path} answered a body that is not a workload list: {e}"),
                        )),
                    },
                    Err(e) if e.is_connection() => {
                        self.pending = None;
                        return Ran::Unreachable {
                            source: "partitioned performance",
                            error: e,
                        };
                    }
                    Err(e) => Err((
                        kind(&e),
                        format!("cannot read dataset {:?}: {e}", dataset.name),
                    )),
                }
            }
        };
        match result {
            Ok(ran) => {
                if matches!(ran, Ran::Done) && self.failing.take().is_some() {
                    log::info!("cluster={cluster} partitioned performance is read again");
                }
                ran
            }
            Err((kind, message)) => {
                let hint = if kind == "HTTP 403" {
                    " (the user of this [[cluster]] needs ISI_PRIV_PERFORMANCE and ISI_PRIV_STATISTICS read privileges, or set partitioned_performance = false in it)"
                } else {
                    ""
                };
                if self.failing.as_deref() == Some(kind.as_str()) {
                    log::debug!("cluster={cluster} {message}{hint}");
                } else {
                    log::error!(
                        "cluster={cluster} {message}{hint}; trying again in {} s",
                        self.settings.interval
                    );
                    self.failing = Some(kind);
                }
                self.pending = None;
                Ran::Done
            }
        }
    }
}

impl PerfSource {
    /// Looks up the export ids of `points` the cache does not know. A failed
    /// lookup is remembered until the next discovery and logged once per kind
    /// of failure; a cluster that cannot be reached is the caller's.
    async fn look_up_exports(
        &mut self,
        client: &mut Client,
        out: &Outlet<'_>,
        points: &[idic_plugin_api::Point],
    ) -> Result<(), crate::onefs::Error> {
        let cluster = out.cluster;
        for id in self.exports.unknown(points) {
            let path = format!("{EXPORTS_PATH}/{id}");
            let failure = match client.get(&path).await {
                Ok(body) => match perf_exports::first_path(&body) {
                    Ok(export_path) => {
                        log::debug!("cluster={cluster} NFS export {id} is {export_path}");
                        self.exports.record(&id, Some(export_path));
                        if self.export_failing.take().is_some() {
                            log::info!("cluster={cluster} NFS export ids are looked up again");
                        }
                        continue;
                    }
                    Err(e) => (
                        "malformed".to_string(),
                        format!("GET {path} answered a body that is not an export: {e}"),
                    ),
                },
                Err(e) if e.is_connection() => return Err(e),
                Err(e) => (kind(&e), format!("cannot look up NFS export {id}: {e}")),
            };
            let (kind, message) = failure;
            self.exports.record(&id, None);
            let hint = if kind == "HTTP 403" {
                " (the user of this [[cluster]] needs the ISI_PRIV_NFS read privilege, or set [partitioned_performance] lookup_export_ids = false)"
            } else {
                ""
            };
            if self.export_failing.as_deref() == Some(kind.as_str()) {
                log::debug!("cluster={cluster} {message}{hint}");
            } else {
                log::error!(
                    "cluster={cluster} {message}{hint}; its points keep export_id without export_path, trying again in {} s",
                    self.settings.interval
                );
                self.export_failing = Some(kind);
            }
        }
        Ok(())
    }
}

fn kind(e: &crate::onefs::Error) -> String {
    match e {
        crate::onefs::Error::Status { status, .. } => format!("HTTP {status}"),
        _ => "other".into(),
    }
}
