//! `idic plugin check PATH [--config FILE]`: the conformance check of one plugin
//! library, for its author. It loads the file as idic does, checks what the
//! plugin says about itself (name, capabilities, `check-config`), then drives it
//! through start, open, two writes of sample points of every shape
//! (`idic_plugin_api::testing`), flush, close and stop. Every call runs on its own
//! thread and is bounded by [`CALL_LIMIT`]: a plugin that hangs fails the check
//! instead of hanging it. The first failure ends the check with exit 1.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use abi_stable::std_types::RSlice;
use idic_plugin_api::{conversation, testing, ErrorKind, SinkError};

use crate::cli::Cli;
use crate::config::Config;
use crate::loader;
use crate::supervise::{check_config_warnings, Capabilities, CAPABILITY_KEYS};

/// The longest one plugin call may take before the check fails.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// A call that took longer than this gets a warning: a `write` must bound its
/// own time, and idic's timers fire every few seconds.
const SLOW: Duration = Duration::from_secs(5);

/// Runs the check of `path`, printing each step; exit 1 at the first failure.
pub fn check(cli: &Cli, path: &Path) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let ok = run(cli, path, &mut report);
    crate::commands::emit(&report.text);
    if ok {
        crate::commands::emit(&format!(
            "{}: conforms ({} warning(s))\n",
            path.display(),
            report.warnings
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "idic: error: {}: does not conform (see above)",
            path.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

#[derive(Default)]
struct Report {
    text: String,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, what: impl AsRef<str>) {
        let _ = writeln!(self.text, "  ok    {}", what.as_ref());
    }
    fn warn(&mut self, what: impl AsRef<str>) {
        self.warnings += 1;
        let _ = writeln!(self.text, "  warn  {}", what.as_ref());
    }
    fn fail(&mut self, what: impl AsRef<str>) -> bool {
        let _ = writeln!(self.text, "  FAIL  {}", what.as_ref());
        false
    }
}

fn run(cli: &Cli, path: &Path, report: &mut Report) -> bool {
    let plugin = match loader::load_any(path) {
        Ok(p) => p,
        Err(e) => return report.fail(format!("load: {e}")),
    };
    let name = plugin.info.name.clone();
    report.ok(format!(
        "load: plugin {name:?} {} built with idic-plugin-api {} (revision {})",
        plugin.info.version, plugin.info.api_version, plugin.info.revision
    ));
    match loader::name_of(path) {
        Some(file) if file == name => report.ok(format!("file name matches the declared name {name:?}")),
        _ => {
            return report.fail(format!(
                "the file must be named lib{name}.so after the declared name {name:?}, or idic will not find it"
            ))
        }
    }
    let section = if cli.config_given {
        match Config::load(&cli.config_file) {
            Ok((c, _)) => c.section_toml(&name),
            Err(e) => return report.fail(format!("--config: {e}")),
        }
    } else {
        String::new()
    };

    let caps = plugin.capabilities();
    match serde_json::from_str::<serde_json::Value>(&caps) {
        Ok(serde_json::Value::Object(map)) => {
            let parsed = Capabilities::parse(&caps);
            for (key, value) in &map {
                let Some((_, has_type)) = CAPABILITY_KEYS.iter().find(|(k, _)| k == key) else {
                    report.warn(format!(
                        "capabilities: key {key:?} means nothing to this idic (docs/PLUGINS.md lists the keys)"
                    ));
                    continue;
                };
                if !has_type(value) {
                    return report.fail(format!(
                        "capabilities: {key:?} has the wrong JSON type: {value}"
                    ));
                }
            }
            report.ok(format!(
                "capabilities {caps}: replay {}, max_instances {}, backfill {}",
                parsed.replay,
                parsed
                    .max_instances
                    .map_or("unlimited".to_string(), |m| m.to_string()),
                parsed.backfill
            ));
        }
        _ => return report.fail(format!("capabilities: not a JSON object: {caps:?}")),
    }

    let p = plugin.clone();
    let s = section.clone();
    match call("control(check-config)", report, move || {
        p.control(conversation::CHECK_CONFIG, &s)
    }) {
        None => return false,
        Some(Ok(answer)) => match check_config_warnings(&answer) {
            Some(ws) => {
                report.ok(format!("check-config answers ({} warning(s))", ws.len()));
                for w in ws {
                    report.warn(format!("check-config: {w}"));
                }
            }
            None => {
                return report.fail(format!(
                    "check-config: the answer must be {{\"warnings\": [...]}}, not {answer:?}"
                ))
            }
        },
        Some(Err(e)) if e.kind == ErrorKind::Unsupported => report.warn(
            "check-config is not answered: idic check-config cannot check this plugin's section",
        ),
        Some(Err(e)) => {
            return report.fail(format!(
                "check-config refuses the section{}: {e}",
                if cli.config_given {
                    ""
                } else {
                    " (empty; give --config FILE)"
                }
            ))
        }
    }

    let p = plugin.clone();
    let start = testing::start_context(&name, &section);
    let started = call("start", report, move || p.start(&start));
    if !step(report, "start", started) {
        return false;
    }
    let p = plugin.clone();
    let open = testing::open_context(&name, "conformance", &section);
    let sink = match call("open", report, move || p.open(&open)) {
        None => return abort(&plugin, report),
        Some(Ok(sink)) => {
            report.ok("open (cluster \"conformance\")");
            sink
        }
        Some(Err(e)) => {
            report.fail(format!(
                "open: {e}{}",
                if cli.config_given {
                    ""
                } else {
                    " (the section was empty; give --config FILE)"
                }
            ));
            return abort(&plugin, report);
        }
    };
    let mut sink = Some(sink);
    let points = testing::sample_points(0).len();
    let steps: [(&str, i64); 2] = [("write 1", 1_700_000_000), ("write 2", 1_700_000_005)];
    for (what, time) in steps {
        let mut s = sink.take().expect("sink is back after each call");
        let result = call(what, report, move || {
            let batch = testing::sample_points(time);
            let r = s.write(RSlice::from_slice(&batch)).into_result();
            (s, r)
        });
        let Some((s, r)) = result else { return false };
        sink = Some(s);
        if !step(report, &format!("{what} ({points} sample points)"), Some(r)) {
            return abort(&plugin, report);
        }
    }
    let mut s = sink.take().expect("sink");
    let Some(r) = call("flush and close", report, move || {
        let r = s
            .flush()
            .into_result()
            .and_then(|()| s.close().into_result());
        drop(s);
        r
    }) else {
        return false;
    };
    if !step(report, "flush, close", Some(r)) {
        return abort(&plugin, report);
    }
    stop(&plugin, report)
}

/// Stops the plugin after a failed step; always false.
fn abort(plugin: &loader::Plugin, report: &mut Report) -> bool {
    stop(plugin, report);
    false
}

fn stop(plugin: &loader::Plugin, report: &mut Report) -> bool {
    let p = plugin.clone();
    let ok = call("stop", report, move || p.stop()).is_some();
    if ok {
        report.ok("stop");
    }
    for line in testing::logged() {
        let _ = writeln!(report.text, "  log   {line}");
    }
    ok
}

/// Reports a call's result; false when it failed.
fn step(report: &mut Report, what: &str, result: Option<Result<(), SinkError>>) -> bool {
    match result {
        None => false,
        Some(Ok(())) => {
            report.ok(what);
            true
        }
        Some(Err(e)) => report.fail(format!("{what}: {:?}: {}", e.kind, e.message)),
    }
}

/// Runs `f` on its own thread, bounded by [`CALL_LIMIT`]; `None` (reported)
/// when it did not return in time. A slow call is a warning.
fn call<T: Send + 'static>(
    what: &str,
    report: &mut Report,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let began = Instant::now();
    let spawned = std::thread::Builder::new()
        .name(format!("check {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        });
    if let Err(e) = spawned {
        report.fail(format!("{what}: cannot start a thread: {e}"));
        return None;
    }
    match rx.recv_timeout(CALL_LIMIT) {
        Ok(v) => {
            let took = began.elapsed();
            if took > SLOW {
                report.warn(format!(
                    "{what} took {:.1} s: every call must bound its own time (timeouts on I/O)",
                    took.as_secs_f64()
                ));
            }
            Some(v)
        }
        Err(_) => {
            report.fail(format!(
                "{what} did not return within {} s: every call must bound its own time",
                CALL_LIMIT.as_secs()
            ));
            None
        }
    }
}
