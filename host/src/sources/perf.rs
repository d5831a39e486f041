//! The partitioned-performance source: every `interval`, discover the
//! cluster's datasets (`GET /platform/10/performance/datasets`), then read each
//! dataset's workloads (`GET /platform/10/statistics/summary/workload?dataset=
//! <name>&nodes=all&degraded=true`, top-N, pinned and overflow rows), as
//! goppstats does, one request per turn of the cluster's loop. Discovery runs
//! every interval, so a dataset or workload added on the cluster appears within
//! one interval. Not done yet: export ids to paths (`export_path`).

use std::time::Duration;

use super::perf_points::{self, Dataset};
use super::{deliver, Outlet, Ran};
use crate::config::PartitionedPerformance;
use crate::onefs::Client;

const DATASETS_PATH: &str = "/platform/10/performance/datasets";

/// One cluster's partitioned-performance source.
pub struct PerfSource {
    settings: PartitionedPerformance,
    /// The datasets still to read in this run (none: discover first).
    pending: Option<Vec<Dataset>>,
    /// The kind of failure last logged at error level.
    failing: Option<String>,
}

impl PerfSource {
    pub fn new(settings: PartitionedPerformance) -> PerfSource {
        PerfSource {
            settings,
            pending: None,
            failing: None,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.settings.interval.max(1))
    }

    /// One request: the discovery, or one dataset's workloads.
    pub async fn run(&mut self, client: &mut Client, out: &Outlet<'_>) -> Ran {
        let cluster = out.cluster;
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
                        Ok(points) => {
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

fn kind(e: &crate::onefs::Error) -> String {
    match e {
        crate::onefs::Error::Status { status, .. } => format!("HTTP {status}"),
        _ => "other".into(),
    }
}
