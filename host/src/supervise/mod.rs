//! What supervises the rest: the main job's lifecycle (`engine.rs`: runtime,
//! plugin, signals, reloads), restarting tasks that fail (`restart.rs`), and the
//! process' own limits (`limits.rs`).

mod engine;
mod limits;
mod restart;

pub use engine::collect;
pub use restart::{panic_message, payload_message};
