//! Links release builds of this plugin with its hot-text linker script
//! (`hot-text/`, docs/PERFORMANCE.md).

fn main() {
    idic_hot_text::link(idic_hot_text::Artifact::Cdylib("prometheus"));
}
