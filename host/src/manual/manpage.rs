//! The man page, `idic(1)`, in roff: synopsis and commands from `cli::VERBS`,
//! options from `cli::FLAGS`, then the files, signals and environment an
//! operator needs.

use crate::cli::{FLAGS, VERBS};

/// Escapes text for roff: backslashes and a leading dot or quote.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// The whole page.
pub fn manpage() -> String {
    let mut out = format!(
        ".TH IDIC 1 \"\" \"idic {}\" \"User Commands\"\n.SH NAME\nidic \\- PowerScale (OneFS) statistics collector with run\\-time loaded sink plugins\n.SH SYNOPSIS\n",
        env!("CARGO_PKG_VERSION")
    );
    for (verb, args, _) in VERBS {
        let verb = if *verb == "run" { "" } else { verb };
        out.push_str(&format!(
            ".B idic\n{}[\\fIFLAGS\\fR]\n.br\n",
            if verb.is_empty() && args.is_empty() {
                String::new()
            } else {
                format!("{} {}\n", roff(verb), roff(args))
                    .replace("  ", " ")
                    .trim_start()
                    .to_string()
            }
        ));
    }
    out.push_str(".SH DESCRIPTION\nidic polls Dell PowerScale (OneFS) clusters for performance statistics over the OneFS Platform API and hands them to sinks: plugins loaded at run time (InfluxDB, Prometheus, JSON lines, third\\-party). It is a drop\\-in replacement for gostats: the same idic.toml, InfluxDB schema, Prometheus names and flags.\n.SH COMMANDS\n");
    for (verb, args, what) in VERBS {
        out.push_str(&format!(
            ".TP\n.B {} {}\n{}\n",
            roff(verb),
            roff(args),
            roff(what)
        ));
    }
    out.push_str(".SH OPTIONS\nFlags take one or two dashes, and their value as the next word or after \\fB=\\fR.\n");
    for (flag, value, what) in FLAGS {
        let value = if value.is_empty() {
            String::new()
        } else {
            format!(" \\fI{value}\\fR")
        };
        out.push_str(&format!(
            ".TP\n\\fB\\-\\-{}\\fR{value}\n{}\n",
            roff(flag),
            roff(what)
        ));
    }
    out.push_str(concat!(
        ".SH FILES\n",
        ".TP\n.I /etc/idic/idic.toml\nthe configuration (Debian package); see idic.toml.example for every key\n",
        ".TP\n.I /usr/lib/idic/plugins\nthe sink plugins (also PREFIX/lib/idic/plugins beside the binary)\n",
        ".TP\n.I /var/lib/idic\nthe disk buffers of sinks that keep history ([delivery] state_dir)\n",
        ".SH SIGNALS\n",
        ".TP\n.B SIGTERM, SIGINT\ndeliver what is queued (bounded) and exit 0\n",
        ".TP\n.B SIGHUP\nreload the configuration; a broken file is refused and collection goes on\n",
        ".TP\n.B SIGUSR1\nopen the log file again (after logrotate moved it)\n",
        ".SH ENVIRONMENT\n",
        ".TP\n.B IDIC_PLUGIN_DIR\nthe plugins folder when neither \\-\\-plugin\\-dir nor plugin_dir is set\n",
        ".TP\n.B RUST_LOG\nmore detail from dependencies (TLS, HTTP)\n",
        ".SH SECRETS\nA password or token written as \\fB$env:NAME\\fR is read from the environment variable NAME, and \\fB$file:/path\\fR from that file, at start and on every reload.\n",
        ".SH EXIT STATUS\n0 on success; 1 when a command failed (idic doctor: when anything checked is unusable); 2 for a command line that cannot be parsed.\n",
        ".SH SEE ALSO\nREADME.md and docs/ARCHITECTURE.md of the idic sources.\n",
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_its_sections_and_every_flag() {
        let page = manpage();
        assert!(page.starts_with(".TH IDIC 1 "));
        for section in [
            "NAME", "SYNOPSIS", "COMMANDS", "OPTIONS", "FILES", "SIGNALS",
        ] {
            assert!(page.contains(&format!(".SH {section}\n")), "{section}");
        }
        for (flag, _, _) in FLAGS {
            assert!(page.contains(&roff(flag)), "{flag}");
        }
    }

    #[test]
    fn roff_escapes_what_roff_would_read_as_markup() {
        assert_eq!(roff(".x\\y-z"), "\\&.x\\eyz".replace("yz", "y\\-z"));
    }
}
