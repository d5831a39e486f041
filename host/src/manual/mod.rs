//! `idic completions SHELL` and `idic manpage`: both generated from the
//! command line's own tables (`cli::VERBS`, `cli::FLAGS`, `cli::HELP`), so they
//! cannot drift from what the parser accepts. `make install` and the .deb
//! install their output.

mod completions;
mod manpage;

pub use completions::completions;
pub use manpage::manpage;
