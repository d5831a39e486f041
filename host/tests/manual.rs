//! Shell completions and the man page as `make install` and the .deb install
//! them (`scripts/install-manual.sh`): bash completes through the installed
//! script, and man renders the installed page.

use std::process::Command;

use crate::services::available;
use crate::util::{self, Dir};

#[test]
fn installed_completions_complete_verbs_and_the_man_page_renders() {
    let dir = Dir::new();
    let prefix = dir.join("prefix");
    let status = Command::new("sh")
        .arg(util::workspace_root().join("scripts/install-manual.sh"))
        .arg(util::idic_bin())
        .arg(&prefix)
        .status()
        .expect("sh runs");
    assert!(status.success());
    let bash = prefix.join("share/bash-completion/completions/idic");
    let complete = |words: &str, cword: usize| -> String {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _idic; echo \"${{COMPREPLY[*]}}\"",
            bash.display()
        );
        let o = Command::new("bash").args(["-c", &script]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(complete("idic doc", 1), "doctor");
    assert_eq!(complete("idic plugin ''", 2), "check new");
    assert_eq!(complete("idic completions ''", 2), "bash zsh fish");
    assert_eq!(complete("idic --plugin-", 1), "--plugin-dir");
    for f in [
        "share/zsh/vendor-completions/_idic",
        "share/fish/vendor_completions.d/idic.fish",
    ] {
        assert!(prefix.join(f).is_file(), "{f}");
    }
    let page = prefix.join("share/man/man1/idic.1.gz");
    if !available(
        "man",
        "installed_completions_complete_verbs_and_the_man_page_renders",
    ) {
        return;
    }
    let o = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for words in [
        "idic doctor [FILE]",
        "SIGUSR1",
        "--plugin-dir DIR",
        "$file:/path",
    ] {
        assert!(
            text.contains(words),
            "{words} is not in the rendered page:\n{text}"
        );
    }
}
