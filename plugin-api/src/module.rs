//! The root module every plugin library exports and the FFI sink object it hands
//! out: the raw boundary that the host loads and checks.
//!
//! Plugin authors never touch these types directly; [`crate::export_plugin!`] builds
//! them from a [`crate::Plugin`] implementation. The layout of everything here is
//! frozen for the whole 1.x line (see `docs/ARCHITECTURE.md`, "ABI versioning").

// `#[sabi_trait]` (abi_stable_derive 0.11) generates impls inside a const block.
#![allow(non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RSlice, RStr, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, sabi_trait, StableAbi};

use crate::{OpenContext, Point, SinkError, StartContext};

/// A plugin's self-description.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginInfo {
    /// The plugin's name; must equal the file name and `stats_processor`.
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// One line saying what the plugin does.
    pub description: RString,
    /// The `idic-plugin-api` version the plugin was built with.
    pub api_version: RString,
    /// The plugin-api revision it was built with ([`crate::API_REVISION`]): tells
    /// the host which optional behaviours the plugin knows about.
    pub revision: u32,
}

/// The root module of a plugin library.
///
/// Loaded by the host through the library's header, which checks the layout of every
/// type reachable from here and the `idic-plugin-api` version.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The plugin's self-description.
    pub info: extern "C" fn() -> PluginInfo,
    /// Process-wide start hook, called before any `open` (again after `stop` on a reload).
    pub start: extern "C" fn(&StartContext) -> RResult<(), SinkError>,
    /// Process-wide stop hook, called after every sink is closed (at exit and on a reload).
    pub stop: extern "C" fn(),
    /// A JSON object describing optional abilities (`{}` when none).
    pub capabilities: extern "C" fn() -> RString,
    /// A generic request carrying JSON: `(command, payload) -> answer`.
    pub control: extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<RString, SinkError>,
    /// Opens a sink for one cluster.
    #[sabi(last_prefix_field)]
    pub open: extern "C" fn(&OpenContext) -> RResult<SinkBox, SinkError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "idic_plugin";
    const NAME: &'static str = "idic_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The sink object as it crosses the boundary. See [`crate::Sink`] for the meaning
/// of each method.
#[sabi_trait]
pub trait FfiSink: Send {
    /// Writes a batch of points.
    fn write(&mut self, batch: RSlice<'_, Point>) -> RResult<(), SinkError>;
    /// Pushes out anything the sink holds.
    fn flush(&mut self) -> RResult<(), SinkError>;
    /// Releases the sink's resources; no call follows.
    #[sabi(last_prefix_field)]
    fn close(&mut self) -> RResult<(), SinkError>;
}

/// An owned FFI sink object.
pub type SinkBox = FfiSink_TO<'static, RBox<()>>;
