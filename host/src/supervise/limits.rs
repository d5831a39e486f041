//! The process' own limits: the open-file limit, raised at start to the hard
//! limit (as Go's runtime does), because a thousand clusters plus a thousand
//! Prometheus listeners exceed the usual soft limit of 1,024; glibc's malloc,
//! tuned for the plugins (which allocate with it) to give memory back;
//! mimalloc, the host's allocator, tuned to give freed pages back at once; and
//! transparent huge pages, turned off for idic, because they make a small heap
//! look large.

/// File descriptors idic may need: a connection per cluster, a listener per
/// cluster for the Prometheus sink, four per cluster and sink for a disk buffer
/// (lock, folder, cursor, segment), and some to spare (logs, plugins, sinks).
pub fn files_needed(clusters: usize, sinks: usize) -> u64 {
    clusters as u64 * (2 + 4 * sinks as u64) + 128
}

/// Raises the soft open-file limit to the hard limit; logs when it is still
/// lower than `needed`.
pub fn raise_open_files(needed: u64) {
    match raise() {
        Ok((soft, hard)) => {
            log::debug!("open-file limit {soft} (hard limit {hard})");
            if soft < needed {
                log::warn!(
                    "the open-file limit is {soft} (hard limit {hard}) but this configuration may need {needed}: raise it (ulimit -n, or LimitNOFILE= in the systemd unit)"
                );
            }
        }
        Err(e) => log::warn!("cannot read or raise the open-file limit: {e}"),
    }
}

/// Tunes glibc's malloc, which plugins use (the host allocates with mimalloc;
/// plugins bring their own allocator, the system's):
/// - two arenas: glibc gives every thread that calls into a plugin a pool of
///   its own, and the Prometheus plugin with 225,000 series kept about 60 MB
///   more with the default (eight per core) than with two, at the same speed;
/// - fixed thresholds for returning memory: blocks of 64 KiB and more (request
///   bodies, compression state) are mapped and unmapped on their own, and free
///   space at an arena's top beyond 128 KiB is given back. glibc's default
///   raises both as soon as a large block is freed, after which the InfluxDB
///   plugins' per-cycle bodies stayed resident in the arenas (7 MiB at 20
///   clusters, where the live data is under 1 MiB).
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const SETTINGS: [(libc::c_int, libc::c_int, &str); 3] = [
            (libc::M_ARENA_MAX, 2, "M_ARENA_MAX"),
            (libc::M_MMAP_THRESHOLD, 64 * 1024, "M_MMAP_THRESHOLD"),
            (libc::M_TRIM_THRESHOLD, 128 * 1024, "M_TRIM_THRESHOLD"),
        ];
        for (param, value, name) in SETTINGS {
            // SAFETY: mallopt takes plain integers; called before plugins are loaded.
            if unsafe { libc::mallopt(param, value) } != 1 {
                log::debug!("cannot set glibc's malloc {name} to {value}");
            }
        }
    }
}

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in mimalloc v3's
/// `mimalloc.h`; the Rust bindings leave it unnamed). A test checks that the
/// number still means this option after an upgrade.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes mimalloc, the host's allocator: freed pages go back to the system at
/// once instead of after mimalloc's default second. idic's heap swings every
/// cycle (answers, points, batches) and by a second later the next cluster's
/// cycle has taken fresh pages: at 20 clusters the peak RSS was 17.0 MiB with
/// the default and 15.0 MiB with no delay, at the same CPU
/// (docs/PERFORMANCE.md, fourth pass). `MIMALLOC_PURGE_DELAY` in the
/// environment still wins.
pub fn tune_mimalloc() {
    // SAFETY: sets an integer option; mimalloc reads it when it next purges.
    // Called before the runtime starts, while one thread runs.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 0) };
}

/// Turns transparent huge pages off for this process: with THP in `madvise`
/// mode (Debian's default) every touched 2 MiB region that asked for them counts
/// whole in RSS (20 clusters measured 37 MiB with them, 21 MiB without, at the
/// same CPU). mimalloc is built without its requests for them (`no_thp`), since
/// its first arena is mapped before `main`; this covers any other code.
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if r != 0 {
            log::debug!(
                "cannot turn transparent huge pages off: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every Unix
fn raise() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

#[cfg(not(unix))]
fn raise() -> std::io::Result<(u64, u64)> {
    Err(std::io::Error::other("not supported on this platform"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_mimalloc_documents() {
        // mimalloc v3's default purge delay is 1000 ms and no neighbouring
        // option defaults to 1000: a renumbered enum fails here.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads an integer option.
            let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }

    #[test]
    #[allow(clippy::unnecessary_cast)]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let (soft, hard) = raise().unwrap();
        assert!(
            soft == hard || hard == libc::RLIM_INFINITY as u64,
            "{soft} < {hard}"
        );
    }

    #[test]
    fn a_thousand_clusters_need_more_than_the_usual_1024() {
        assert!(files_needed(1000, 1) > 1024);
    }
}
