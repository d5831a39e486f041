//! The author-facing side: the [`Plugin`] and [`Sink`] traits a plugin implements,
//! and the shims that [`crate::export_plugin!`] wires into the root module.
//!
//! Every shim runs the author's code inside `catch_unwind`, so a panic in a plugin
//! becomes an [`ErrorKind::Panicked`] error for the host instead of an abort.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RSlice, RStr, RString};

use crate::module::{FfiSink, FfiSink_TO, PluginInfo, PluginMod, PluginModRef, SinkBox};
use crate::{ErrorKind, HostServices, LogLevel, OpenContext, Point, SinkError, StartContext};

/// A sink plugin: process-wide hooks and a factory of per-cluster sinks.
///
/// One value is created with `Default` when the library is loaded and lives for the
/// whole process; it may hold process-wide state (a shared HTTP listener, say).
pub trait Plugin: Default + Send + Sync + 'static {
    /// The sink type [`Plugin::open`] returns.
    type Sink: Sink;

    /// The plugin's name: the library file is `lib<NAME>.so` and operators select it
    /// with `stats_processor = "<NAME>"`.
    const NAME: &'static str;
    /// The plugin's version, usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
    /// One line saying what the plugin does.
    const DESCRIPTION: &'static str;

    /// Called before any sink is opened: once at start, and again after
    /// [`Plugin::stop`] when the host reloads its configuration (every sink is
    /// closed before `stop` and reopened after `start`). Default: nothing.
    fn start(&self, ctx: &StartContext) -> Result<(), SinkError> {
        let _ = ctx;
        Ok(())
    }

    /// Called after every sink is closed: at exit, and before a reload's `start`.
    /// Default: nothing.
    fn stop(&self) {}

    /// A JSON object describing optional abilities. Default: `{}`.
    fn capabilities(&self) -> String {
        "{}".to_string()
    }

    /// A generic JSON request for needs the interface did not foresee. Default:
    /// [`ErrorKind::Unsupported`].
    fn control(&self, command: &str, payload: &str) -> Result<String, SinkError> {
        let _ = payload;
        Err(crate::conversation::unsupported(command))
    }

    /// Opens a sink for one cluster. Parse `ctx.plugin_config` here and return
    /// [`SinkError::config`] naming the setting when it is wrong.
    fn open(&self, ctx: &OpenContext) -> Result<Self::Sink, SinkError>;
}

/// A per-cluster sink.
///
/// The host calls these methods from one thread at a time, owns buffering and
/// retries, and never calls a method after `close`. A sink writes once and
/// classifies the result; it does not queue or retry on its own.
pub trait Sink: Send + 'static {
    /// Writes a batch of points to the backend.
    fn write(&mut self, batch: &[Point]) -> Result<(), SinkError>;

    /// Pushes out anything the sink holds. Default: nothing.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Releases the sink's resources. Default: nothing.
    fn close(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Gives the export shims access to the one plugin value. Implemented by
/// [`crate::export_plugin!`]; not for plugin authors.
#[doc(hidden)]
pub trait Instance: Plugin {
    fn instance() -> &'static Self;
}

/// Builds the root module for `P`. Called by [`crate::export_plugin!`].
#[doc(hidden)]
pub fn root_module<P: Instance>() -> PluginModRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    PluginMod {
        info: info::<P>,
        start: start::<P>,
        stop: stop::<P>,
        capabilities: capabilities::<P>,
        control: control::<P>,
        open: open::<P>,
    }
    .leak_into_prefix()
}

extern "C" fn info<P: Instance>() -> PluginInfo {
    PluginInfo {
        name: P::NAME.into(),
        version: P::VERSION.into(),
        description: P::DESCRIPTION.into(),
        api_version: crate::API_VERSION.into(),
        revision: crate::API_REVISION,
    }
}

extern "C" fn start<P: Instance>(ctx: &StartContext) -> RResult<(), SinkError> {
    install_logger(P::NAME, ctx.host);
    guard(|| P::instance().start(ctx)).into()
}

extern "C" fn stop<P: Instance>() {
    let _ = guard(|| {
        P::instance().stop();
        Ok(())
    });
}

extern "C" fn capabilities<P: Instance>() -> RString {
    guard(|| Ok(P::instance().capabilities()))
        .unwrap_or_else(|_| "{}".to_string())
        .into()
}

extern "C" fn control<P: Instance>(
    command: RStr<'_>,
    payload: RStr<'_>,
) -> RResult<RString, SinkError> {
    guard(|| P::instance().control(command.as_str(), payload.as_str()))
        .map(RString::from)
        .into()
}

extern "C" fn open<P: Instance>(ctx: &OpenContext) -> RResult<SinkBox, SinkError> {
    install_logger(P::NAME, ctx.host);
    guard(|| P::instance().open(ctx))
        .map(|sink| FfiSink_TO::from_value(Guarded { sink: Some(sink) }, TD_Opaque))
        .into()
}

/// Wraps an author's sink: catches panics and refuses use after one.
struct Guarded<S> {
    /// `None` once the sink has panicked: its state can no longer be trusted.
    sink: Option<S>,
}

impl<S: Sink> Guarded<S> {
    fn call(&mut self, f: impl FnOnce(&mut S) -> Result<(), SinkError>) -> RResult<(), SinkError> {
        let Some(sink) = self.sink.as_mut() else {
            return RResult::RErr(SinkError::new(
                ErrorKind::Panicked,
                "sink is unusable after an earlier panic",
            ));
        };
        let result = guard(|| f(sink));
        if matches!(&result, Err(e) if e.kind == ErrorKind::Panicked) {
            // Dropping may panic again; leak instead of risking an abort.
            std::mem::forget(self.sink.take());
        }
        result.into()
    }
}

impl<S: Sink> FfiSink for Guarded<S> {
    fn write(&mut self, batch: RSlice<'_, Point>) -> RResult<(), SinkError> {
        self.call(|s| s.write(batch.as_slice()))
    }

    fn flush(&mut self) -> RResult<(), SinkError> {
        self.call(|s| s.flush())
    }

    fn close(&mut self) -> RResult<(), SinkError> {
        self.call(|s| s.close())
    }
}

/// Runs `f`, turning a panic into an [`ErrorKind::Panicked`] error whose
/// message ends with where it happened (`(at src/lib.rs:48:13)`). While `f` runs,
/// this library's panic hook records the location instead of printing to
/// standard error, so the host logs the panic once, in its own log, with the
/// cluster and plugin; panics elsewhere (the plugin's own threads) still reach
/// the previous hook.
fn guard<T>(f: impl FnOnce() -> Result<T, SinkError>) -> Result<T, SinkError> {
    install_panic_hook();
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    result.unwrap_or_else(|payload| {
        let place = PANICKED_AT
            .with(|p| p.take())
            .map(|at| format!(" (at {at})"))
            .unwrap_or_default();
        Err(SinkError::new(
            ErrorKind::Panicked,
            format!("{}{place}", panic_message(payload.as_ref())),
        ))
    })
}

thread_local! {
    /// How many [`guard`]s this thread is inside.
    static GUARDED: Cell<u32> = const { Cell::new(0) };
    /// Where the last guarded panic of this thread happened.
    static PANICKED_AT: Cell<Option<String>> = const { Cell::new(None) };
}

/// Chains this library's panic hook in front of the previous one, once.
fn install_panic_hook() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) > 0 {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                PANICKED_AT.with(|p| p.set(at));
            } else {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}

/// Forwards the plugin's `log` records to the host.
struct HostLogger {
    plugin: &'static str,
    host: HostServices,
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        LogLevel::from(metadata.level()) <= self.host.max_level
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let message = record.args().to_string();
            (self.host.log)(
                record.level().into(),
                self.plugin.into(),
                record.module_path().unwrap_or("").into(),
                message.as_str().into(),
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the forwarding logger once; later calls are no-ops.
fn install_logger(plugin: &'static str, host: HostServices) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if log::set_boxed_logger(Box::new(HostLogger { plugin, host })).is_ok() {
            log::set_max_level(log::Level::from(host.max_level).to_level_filter());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_a_panicked_error() {
        let err = guard::<()>(|| panic!("boom")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panicked);
        assert!(err.message.contains("boom"), "{}", err.message);
        assert!(
            err.message.contains("(at plugin-api/src/plugin.rs:"),
            "{}",
            err.message
        );
    }

    struct Explodes;
    impl Sink for Explodes {
        fn write(&mut self, _: &[Point]) -> Result<(), SinkError> {
            panic!("write exploded")
        }
    }

    #[test]
    fn guarded_sink_refuses_use_after_a_panic() {
        let mut g = Guarded {
            sink: Some(Explodes),
        };
        let first = g.write(RSlice::from_slice(&[])).unwrap_err();
        assert!(first.message.contains("write exploded"));
        let second = g.flush().unwrap_err();
        assert_eq!(second.kind, ErrorKind::Panicked);
        assert!(second.message.contains("unusable"));
    }
}
