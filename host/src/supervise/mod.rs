//! What supervises the rest: the main job's lifecycle (`engine.rs`: runtime,
//! signals, reloads), the sinks of a configuration (`sinks.rs`: plugins,
//! instances, their delivery settings), restarting tasks that fail (`restart.rs`), and the
//! process' own limits (`limits.rs`), allocator (`allocator.rs`) and
//! resident read-only pages (`resident.rs`).

mod allocator;
mod engine;
mod limits;
mod resident;
mod restart;
mod sinks;

pub use allocator::Allocator;
pub use engine::collect;
pub use restart::{panic_message, payload_message};
pub use sinks::{
    check_config_warnings, cluster_folder, default_state_dir, Capabilities, Target, CAPABILITY_KEYS,
};
