//! The stable interface between the `idic` collector and its sink plugins.
//!
//! A sink plugin is a shared library (`.so`, `.dll`, `.dylib`) that the collector
//! loads at run time from its plugins folder when `stats_processor = "<name>"` asks
//! for it. This crate is the only thing a plugin author depends on: it defines the
//! data ([`Point`], [`Row`], [`Value`]), the error ([`SinkError`] with its
//! [`ErrorKind`]), what the host hands over ([`StartContext`], [`OpenContext`],
//! [`HostServices`]), the traits to implement ([`Plugin`], [`Sink`]) and the
//! [`export_plugin!`] macro that turns them into a loadable library.
//!
//! The layout of every type here is checked by `abi_stable` when the host loads a
//! plugin, and is frozen for the whole 1.x line: a plugin built against 1.0.0 keeps
//! loading into every later 1.x host.
//!
//! # Example
//!
//! A complete plugin (crate type `cdylib`, library name `counter`):
//!
//! ```
//! use idic_plugin_api::{export_plugin, OpenContext, Plugin, Point, Sink, SinkError};
//!
//! #[derive(Default)]
//! pub struct Counter;
//!
//! pub struct CounterSink {
//!     points: u64,
//! }
//!
//! impl Plugin for Counter {
//!     type Sink = CounterSink;
//!     const NAME: &'static str = "counter";
//!     const VERSION: &'static str = "0.1.0";
//!     const DESCRIPTION: &'static str = "counts points";
//!
//!     fn open(&self, _ctx: &OpenContext) -> Result<CounterSink, SinkError> {
//!         Ok(CounterSink { points: 0 })
//!     }
//! }
//!
//! impl Sink for CounterSink {
//!     fn write(&mut self, batch: &[Point]) -> Result<(), SinkError> {
//!         self.points += batch.len() as u64;
//!         Ok(())
//!     }
//! }
//!
//! export_plugin!(Counter);
//! ```

#![deny(missing_docs)]

mod context;
pub mod conversation;
mod error;
mod module;
mod plugin;
mod point;
#[cfg(feature = "testing")]
pub mod testing;

pub use context::{HostServices, LogLevel, OpenContext, StartContext, StatInfo};
pub use error::{ErrorKind, SinkError};
pub use module::{FfiSink, FfiSink_TO, PluginInfo, PluginMod, PluginModRef, SinkBox};
pub use plugin::{Plugin, Sink};
pub use point::{Field, Point, Row, Tag, Value};

/// Re-exported so that hosts and plugins use the same `abi_stable`.
pub use abi_stable;

/// The `idic-plugin-api` version this crate is (and a plugin was built with).
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The interface revision: which optional behaviours exist. Revision 1 is plugin-api
/// 1.0.0. A later 1.0.x that gives existing calls new optional meaning (a key in
/// `extra`, a `control` command) raises it, so the host knows what a plugin expects.
pub const API_REVISION: u32 = 1;

/// The symbol under which a plugin library exports its header; `abi_stable` 0.11
/// looks for exactly this name (a unit test checks it).
#[doc(hidden)]
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::{root_module, Instance};
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
}

/// Exports a [`Plugin`] implementation as this library's idic plugin.
///
/// Use it once, at the crate root of a `cdylib`. The type must implement `Plugin`
/// (and so `Default`). Every entry point runs inside `catch_unwind`, and the
/// plugin's `log` records go to the host's log, tagged with the plugin's name.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        impl $crate::__private::Instance for $plugin {
            fn instance() -> &'static Self {
                static INSTANCE: ::std::sync::OnceLock<$plugin> = ::std::sync::OnceLock::new();
                INSTANCE.get_or_init(<$plugin as ::std::default::Default>::default)
            }
        }

        #[doc(hidden)]
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn construct() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(
                    $crate::__private::root_module::<$plugin>,
                )
            }
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::PluginModRef>(
                    construct,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_symbol_matches_abi_stable() {
        assert_eq!(
            super::ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
