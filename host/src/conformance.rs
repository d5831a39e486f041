//! `idic plugin check PATH [--config FILE]`: the conformance check of one plugin
//! library, for its author. It loads the file as idic does, checks what the
//! plugin says about itself (name, capabilities, `check-config` of its section
//! and the refusal of a broken one), then drives it through start, open, two
//! writes of sample points of every shape (`idic_plugin_api::testing`), a
//! throughput run (points per second, at most 1 s or 200 batches), flush,
//! close and stop, and then once more after the stop, as a reload (SIGHUP)
//! does: start, open, write, flush, close, stop. Every call runs on its own
//! thread and is bounded by [`CALL_LIMIT`]: a plugin that hangs fails the check
//! instead of hanging it. The first failure ends the check with exit 1.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use abi_stable::std_types::RSlice;
use idic_plugin_api::{
    conversation, testing, ErrorKind, OpenContext, Point, SinkBox as Sink, SinkError, StartContext,
};

use crate::cli::Cli;
use crate::config::{Config, HOST_SECTIONS};
use crate::loader;
use crate::plugin_host;
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
    /// The plugin's log lines recorded during the throughput run (indices of
    /// `testing::logged()`), left out of the report.
    quiet: std::ops::Range<usize>,
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
    let config = if cli.config_given {
        match Config::load(&cli.config_file) {
            Ok((c, _)) => Some(c),
            Err(e) => return report.fail(format!("--config: {e}")),
        }
    } else {
        None
    };
    let section = config
        .as_ref()
        .map_or_else(String::new, |c| c.section_toml(&name));

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
                "capabilities {caps}: replay {}, max_instances {}, backfill {}, config_sections {:?}",
                parsed.replay,
                parsed
                    .max_instances
                    .map_or("unlimited".to_string(), |m| m.to_string()),
                parsed.backfill,
                parsed.config_sections
            ));
            for section in &parsed.config_sections {
                if HOST_SECTIONS.contains(&section.as_str()) || *section == name {
                    report.warn(format!(
                        "capabilities: config_sections names [{section}], which idic never hands a plugin this way (its own section comes anyway; idic's sections are private)"
                    ));
                }
            }
        }
        _ => return report.fail(format!("capabilities: not a JSON object: {caps:?}")),
    }

    let p = plugin.clone();
    let s = section.clone();
    let mut answers_check_config = true;
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
        Some(Err(e)) if e.kind == ErrorKind::Unsupported => {
            answers_check_config = false;
            report.warn(
                "check-config is not answered: idic check-config cannot check this plugin's section",
            )
        }
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

    if answers_check_config && !broken_section(&plugin, report) {
        return false;
    }
    let setup = Setup {
        name: name.clone(),
        section,
        declared: Capabilities::parse(&caps).config_sections,
        config,
    };

    // The first run: two writes, the throughput, flush and close, stop.
    let mut sink = match begin(&plugin, &setup, report, "") {
        Some(sink) => sink,
        None => return abort(&plugin, report),
    };
    let points = testing::sample_points(0).len();
    let steps: [(&str, i64); 2] = [("write 1", 1_700_000_000), ("write 2", 1_700_000_005)];
    for (what, time) in steps {
        let label = format!("{what} ({points} sample points)");
        match write(sink, report, &label, testing::sample_points(time)) {
            Some(s) => sink = s,
            None => return abort(&plugin, report),
        }
    }
    let Some(sink) = throughput(sink, report) else {
        return abort(&plugin, report);
    };
    if !end(sink, report, "flush, close") {
        return abort(&plugin, report);
    }
    if !stop_only(&plugin, report) {
        return false;
    }

    // A reload (SIGHUP): the same library started again after its stop.
    let mut sink = match begin(&plugin, &setup, report, "reload: ") {
        Some(sink) => sink,
        None => return abort(&plugin, report),
    };
    let label = format!("reload: write ({points} sample points)");
    match write(sink, report, &label, testing::sample_points(1_700_000_300)) {
        Some(s) => sink = s,
        None => return abort(&plugin, report),
    }
    if !end(sink, report, "reload: flush, close") {
        return abort(&plugin, report);
    }
    stop(&plugin, report)
}

/// What the plugin is started and opened with: the kit's contexts
/// (`idic_plugin_api::testing`) with the plugin's section, and, with
/// `--config`, what idic itself would hand it from that file: the start
/// context idic builds (least privilege, `config_sections` included; when the
/// file names the plugin in `stats_processor`), and the first collected
/// cluster's table and `[global]` in the open context (the Prometheus plugin
/// needs that cluster's `prometheus_port`).
struct Setup {
    name: String,
    section: String,
    declared: Vec<String>,
    config: Option<Config>,
}

impl Setup {
    /// With a config naming this plugin, idic's own start context (its log
    /// lines recorded by the kit's host services, for the report).
    fn start_context(&self) -> StartContext {
        let sink = self
            .config
            .as_ref()
            .and_then(|c| Some((c, c.sinks.iter().find(|s| s.plugin == self.name)?)));
        match sink {
            Some((c, sink)) => StartContext {
                host: testing::host_services(),
                ..plugin_host::start_context(c, sink, &self.declared)
            },
            None => testing::start_context(&self.name, &self.section),
        }
    }

    fn open_context(&self) -> OpenContext {
        let mut ctx = testing::open_context(&self.name, CLUSTER, &self.section);
        if let Some(c) = &self.config {
            if let Some(first) = c.enabled_clusters().next() {
                ctx.cluster_config = first.toml.as_str().into();
            }
            ctx.global_config = c.section_toml("global").into();
        }
        ctx
    }

    /// What to add to a refusal when no config was given.
    fn hint(&self) -> &'static str {
        if self.config.is_some() {
            ""
        } else {
            " (the section was empty; give --config FILE)"
        }
    }
}

/// The cluster name the check's sinks are opened for.
const CLUSTER: &str = "conformance";

/// Starts the plugin and opens a sink for cluster [`CLUSTER`]; `None`
/// (reported) when either fails. `prefix` names the run in the report.
fn begin(
    plugin: &loader::Plugin,
    setup: &Setup,
    report: &mut Report,
    prefix: &str,
) -> Option<Sink> {
    let hint = setup.hint();
    let p = plugin.clone();
    let start = setup.start_context();
    let started = call(&format!("{prefix}start"), report, move || p.start(&start));
    match started {
        None => return None,
        Some(Ok(())) => report.ok(format!("{prefix}start")),
        Some(Err(e)) => {
            report.fail(format!("{prefix}start: {:?}: {}{hint}", e.kind, e.message));
            return None;
        }
    }
    let p = plugin.clone();
    let open = setup.open_context();
    match call(&format!("{prefix}open"), report, move || p.open(&open))? {
        Ok(sink) => {
            report.ok(format!("{prefix}open (cluster {CLUSTER:?})"));
            Some(sink)
        }
        Err(e) => {
            report.fail(format!("{prefix}open: {e}{hint}"));
            None
        }
    }
}

/// Writes `batch` to `sink`; the sink back, or `None` (reported) on failure.
fn write(mut sink: Sink, report: &mut Report, label: &str, batch: Vec<Point>) -> Option<Sink> {
    let (sink, r) = call(label, report, move || {
        let r = sink.write(RSlice::from_slice(&batch)).into_result();
        (sink, r)
    })?;
    step(report, label, Some(r)).then_some(sink)
}

/// How long the throughput step writes, at most.
const THROUGHPUT_TIME: Duration = Duration::from_secs(1);
/// How many batches the throughput step writes, at most.
const THROUGHPUT_BATCHES: usize = 200;

/// Writes batches of sample points for [`THROUGHPUT_TIME`] or
/// [`THROUGHPUT_BATCHES`] batches, whichever comes first, and reports points per
/// second (a figure for the author, not a verdict).
fn throughput(mut sink: Sink, report: &mut Report) -> Option<Sink> {
    let batches: Vec<Vec<Point>> = (0..THROUGHPUT_BATCHES)
        .map(|i| testing::sample_points(1_700_000_010 + 5 * i as i64))
        .collect();
    let before = testing::logged().len();
    let result = call("throughput", report, move || {
        let began = Instant::now();
        let mut written = (0, 0);
        for batch in &batches {
            if let Err(e) = sink.write(RSlice::from_slice(batch)).into_result() {
                return (sink, written, began.elapsed(), Err(e));
            }
            written = (written.0 + 1, written.1 + batch.len());
            if began.elapsed() >= THROUGHPUT_TIME {
                break;
            }
        }
        (sink, written, began.elapsed(), Ok(()))
    });
    report.quiet = before..testing::logged().len();
    let (sink, (batches, points), took, r) = result?;
    match r {
        Ok(()) => {
            let seconds = took.as_secs_f64().max(1e-6);
            report.ok(format!(
                "throughput: {:.0} points/s ({batches} batches, {points} points in {:.3} s)",
                points as f64 / seconds,
                took.as_secs_f64()
            ));
            Some(sink)
        }
        Err(e) => {
            report.fail(format!(
                "throughput: batch {} failed: {:?}: {}",
                batches + 1,
                e.kind,
                e.message
            ));
            None
        }
    }
}

/// Flushes and closes `sink`, as idic does before a stop or a reload.
fn end(mut sink: Sink, report: &mut Report, label: &str) -> bool {
    let Some(r) = call(label, report, move || {
        let r = sink
            .flush()
            .into_result()
            .and_then(|()| sink.close().into_result());
        drop(sink);
        r
    }) else {
        return false;
    };
    step(report, label, Some(r))
}

/// Asks `check-config` about a section that is not TOML: a plugin that answers
/// `check-config` should refuse it with a `Config` error. Accepting it is a
/// warning; a panic fails the check.
fn broken_section(plugin: &loader::Plugin, report: &mut Report) -> bool {
    let p = plugin.clone();
    let answer = call(
        "control(check-config) of a broken section",
        report,
        move || p.control(conversation::CHECK_CONFIG, BROKEN_SECTION),
    );
    match answer {
        None => false,
        Some(Ok(answer)) => {
            report.warn(format!(
                "check-config accepts a broken section (not TOML: {BROKEN_SECTION:?}) and answers {answer}: refuse what you cannot read with SinkError::config(msg)"
            ));
            true
        }
        Some(Err(e)) if e.kind == ErrorKind::Panicked => report.fail(format!(
            "check-config panics on a broken section (not TOML: {BROKEN_SECTION:?}): {}; return SinkError::config(msg) instead",
            e.message
        )),
        Some(Err(e)) if e.kind == ErrorKind::Config => {
            report.ok(format!("check-config refuses a broken section: {}", e.message));
            true
        }
        Some(Err(e)) => {
            report.warn(format!(
                "check-config refuses a broken section as {:?}, not Config: {}; a section an operator must fix is SinkError::config(msg)",
                e.kind, e.message
            ));
            true
        }
    }
}

/// A section no TOML reader accepts, for the refusal step.
const BROKEN_SECTION: &str = "this is = = not [toml\n";

/// Stops the plugin after a failed step; always false.
fn abort(plugin: &loader::Plugin, report: &mut Report) -> bool {
    stop(plugin, report);
    false
}

/// Stops the plugin, then adds its log lines to the report.
fn stop(plugin: &loader::Plugin, report: &mut Report) -> bool {
    let ok = stop_only(plugin, report);
    let quiet = report.quiet.clone();
    for (i, line) in testing::logged().iter().enumerate() {
        if i == quiet.start && !quiet.is_empty() {
            let _ = writeln!(
                report.text,
                "  log   ({} line(s) logged during the throughput run left out)",
                quiet.len()
            );
        }
        if !quiet.contains(&i) {
            let _ = writeln!(report.text, "  log   {line}");
        }
    }
    ok
}

/// Runs the plugin's stop hook (bounded, reported).
fn stop_only(plugin: &loader::Plugin, report: &mut Report) -> bool {
    let p = plugin.clone();
    let ok = call("stop", report, move || p.stop()).is_some();
    if ok {
        report.ok("stop");
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
