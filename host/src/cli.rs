//! The command line: gostats' single-dash flags (`-config-file`, `-logfile`,
//! `-loglevel`, `-version`, `-check-stat-return`, each also with two dashes and in
//! `-flag=value` form) plus idic's verbs `plugins` and `check-config`.
//!
//! Hand-written because gostats' Go-style flags are not what argument-parsing crates
//! expect, and the surface is small.

use std::path::PathBuf;

use crate::config::shard::Shard;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Collect statistics (the default).
    Run,
    /// List the plugins found and whether each loads.
    Plugins,
    /// Parse and validate a config file, print a summary.
    CheckConfig,
    /// Check that every cluster and sink of a config can be used.
    Doctor,
    /// `completions SHELL`: the shell completion script (bash, zsh or fish).
    Completions(String),
    /// `manpage`: the man page, roff.
    Manpage,
    /// `plugin check PATH`: the conformance check of one plugin library.
    PluginCheck(PathBuf),
    /// `plugin new NAME`: scaffold a plugin crate (in `--dir`).
    PluginNew(String),
    /// Print the version.
    Version,
    /// Print help for a command.
    Help(Option<&'static str>),
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// The verb.
    pub command: Command,
    /// `-config-file` or `check-config FILE`; default `idic.toml`.
    pub config_file: PathBuf,
    /// `-logfile`: overrides `[logging] logfile`.
    pub logfile: Option<PathBuf>,
    /// `-loglevel`: overrides `[logging] log_level`.
    pub loglevel: Option<String>,
    /// `-check-stat-return`: log requested keys missing from answers.
    pub check_stat_return: bool,
    /// `--plugin-dir`: the plugins folder.
    pub plugin_dir: Option<PathBuf>,
    /// `--strict` (check-config): warnings are errors.
    pub strict: bool,
    /// `--dir` (plugin new): where the new crate's folder goes.
    pub dir: Option<PathBuf>,
    /// `--shard K/N`: overrides `shard` in `[global]`.
    pub shard: Option<Shard>,
    /// Whether the config file was named (`-config-file`, `--config`, or
    /// `check-config FILE`) rather than defaulted.
    pub config_given: bool,
}

/// The verbs, for help, completions and the man page: (words, arguments,
/// what it does).
pub const VERBS: &[(&str, &str, &str)] = &[
    ("run", "", "collect statistics (the default)"),
    (
        "plugins",
        "",
        "list the sink plugins found and whether each loads",
    ),
    (
        "check-config",
        "[FILE]",
        "validate a config file and summarise it",
    ),
    (
        "doctor",
        "[FILE]",
        "check that every cluster and sink can be used",
    ),
    (
        "plugin check",
        "PATH [--config FILE]",
        "conformance check of one plugin library",
    ),
    (
        "plugin new",
        "NAME [--dir DIR]",
        "a new sink plugin crate built against the SDK",
    ),
    (
        "completions",
        "SHELL",
        "print the completion script for bash, zsh or fish",
    ),
    ("manpage", "", "print the man page (roff)"),
    ("help", "[COMMAND]", "show help"),
];

/// The flags, for completions and the man page: (name, what its value is, or
/// "" for a switch, what it does). The parser below accepts each with one or
/// two dashes (a unit test checks the two agree).
pub const FLAGS: &[(&str, &str, &str)] = &[
    ("config-file", "PATH", "the config file (default idic.toml)"),
    (
        "logfile",
        "PATH",
        "log to this file (overrides [logging] logfile)",
    ),
    (
        "loglevel",
        "LEVEL",
        "CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or TRACE",
    ),
    (
        "check-stat-return",
        "",
        "log any requested statistic the cluster did not return",
    ),
    ("plugin-dir", "DIR", "the plugins folder"),
    ("strict", "", "check-config: warnings are errors"),
    (
        "config",
        "FILE",
        "plugin check: the config whose section to use",
    ),
    ("dir", "DIR", "plugin new: where the crate goes"),
    ("version", "", "print the version and exit"),
    ("help", "", "show help"),
];

/// The shells `idic completions` writes for.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// Top-level help.
pub const HELP: &str = "\
idic: PowerScale (OneFS) statistics collector with run-time loaded sink plugins

Usage:
  idic [FLAGS]                      collect statistics (the main job)
  idic plugins [FLAGS]              list the sink plugins found and whether each loads
  idic check-config [FILE] [FLAGS]  validate a config file and summarise it
  idic doctor [FILE] [FLAGS]        check that every cluster and sink can be used
  idic completions bash|zsh|fish    print a shell completion script
  idic manpage                      print the man page (roff)
  idic plugin check PATH [--config FILE]
                                    conformance check of one plugin library
  idic plugin new NAME [--dir DIR]  a new sink plugin crate built against the SDK
  idic help [COMMAND]               show help

Flags (one or two dashes, `-flag value` or `-flag=value`):
  -config-file PATH     config file (default idic.toml)
  -logfile PATH         log file (overrides [logging] logfile)
  -loglevel LEVEL       CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG or TRACE
  -check-stat-return    log any requested statistic the cluster did not return
  --plugin-dir DIR      the plugins folder (else plugin_dir in [global],
                        IDIC_PLUGIN_DIR, ./plugins beside idic, PREFIX/lib/idic/plugins,
                        /usr/lib/idic/plugins)
  --shard K/N           collect only the clusters of shard K of N (overrides
                        shard in [global]; a pod ordinal k is shard k+1)
  -version              print the version and exit
  -h, --help            show help
";

const PLUGINS_HELP: &str = "\
idic plugins: list every sink plugin in the plugins folders

For each library: name, version, the idic-plugin-api version it was built with,
its description, and whether it loads into this idic (if not, why).

Usage: idic plugins [--plugin-dir DIR] [-config-file PATH]

Exits 1 when any library found does not load.
";

const CHECK_HELP: &str = "\
idic check-config: validate a config file without contacting any cluster

Prints warnings (unknown keys, with a suggestion), then a summary of the clusters,
the active stat groups and the sinks. Loads each plugin the config names (exit 1,
listing the installed plugins, when one is missing or does not load) and asks it
to check its own settings (unknown keys are warnings; a wrong type or a missing
required key is an error). Exits 1 with file:line:column and what was expected
when the file cannot be used.

Usage: idic check-config [FILE] [--strict] [--plugin-dir DIR] [--shard K/N]
       (FILE default: -config-file, else idic.toml)
  --strict    warnings are errors (exit 1)
  --shard K/N list which enabled clusters shard K of N collects
";

const DOCTOR_HELP: &str = "\
idic doctor: check that every enabled cluster and every sink can be used

For each enabled cluster, step by step: name resolution, TCP connect, TLS
(certificate chain, name, expiry), login (session or Basic auth), the OneFS
version, the statistics privilege (ISI_PRIV_STATISTICS), clock skew, and the
configured keys the cluster does not know. Then each sink's plugin is loaded
and asked whether its backend can be reached. Each failure comes with the
setting or action that fixes it.

Usage: idic doctor [FILE] [--plugin-dir DIR]
       (FILE default: -config-file, else idic.toml)

Exits 0 only when everything checked is usable (warnings do not count).
";

const PLUGIN_HELP: &str = "\
idic plugin check: the conformance check of one sink plugin library

Loads PATH as idic does (from a private copy), checks its name, its
capabilities JSON and its answer to check-config, then drives it through
start, open (cluster \"conformance\"), two writes of sample points of every
shape, flush, close and stop, each call bounded in time. Prints what each step
did and exits 1 at the first failure.

Usage: idic plugin check PATH [--config FILE]
  --config FILE   take the plugin's section from FILE's [<name>] (else empty)

idic plugin new NAME [--dir DIR]: creates DIR/NAME (default ./NAME), a sink
plugin crate that builds with `cargo build --offline` against the installed SDK
(PREFIX/share/idic/sdk, or IDIC_SDK), without the idic source tree.
";

/// Help text for `command` (`None` = top level).
pub fn help(command: Option<&str>) -> &'static str {
    match command {
        Some("plugins") => PLUGINS_HELP,
        Some("check-config") => CHECK_HELP,
        Some("doctor") => DOCTOR_HELP,
        Some("plugin") => PLUGIN_HELP,
        _ => HELP,
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Cli, String> {
    let mut cli = Cli {
        command: Command::Run,
        config_file: PathBuf::from("idic.toml"),
        logfile: None,
        loglevel: None,
        check_stat_return: false,
        plugin_dir: None,
        strict: false,
        config_given: false,
        dir: None,
        shard: None,
    };
    let mut verb: Option<&'static str> = None;
    let mut help = false;
    let mut positional: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|f| !f.is_empty())
        else {
            positional.push(arg);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("flag -{name} needs {what}"))
        };
        match name {
            "config-file" | "config" => {
                cli.config_file = PathBuf::from(value("a file path")?);
                cli.config_given = true;
            }
            "logfile" => cli.logfile = Some(PathBuf::from(value("a file path")?)),
            "loglevel" => cli.loglevel = Some(value("a level")?),
            "plugin-dir" => cli.plugin_dir = Some(PathBuf::from(value("a folder")?)),
            "dir" => cli.dir = Some(PathBuf::from(value("a folder")?)),
            "shard" => cli.shard = Some(value("K/N")?.parse()?),
            "check-stat-return" => cli.check_stat_return = parse_bool(name, inline.as_deref())?,
            "strict" => cli.strict = parse_bool(name, inline.as_deref())?,
            "version" => {
                if parse_bool(name, inline.as_deref())? {
                    cli.command = Command::Version;
                }
            }
            "h" | "help" => help = true,
            _ => return Err(format!("unknown flag {arg:?}; see idic --help")),
        }
    }
    let mut positional = positional.into_iter();
    if let Some(word) = positional.next() {
        verb = Some(match word.as_str() {
            "plugins" => "plugins",
            "check-config" => "check-config",
            "doctor" => "doctor",
            "completions" => "completions",
            "manpage" => "manpage",
            "plugin" => match positional.next().as_deref() {
                Some("check") => "plugin check",
                Some("new") => "plugin new",
                Some(other) => {
                    return Err(format!(
                        "unknown command \"plugin {other}\"; see idic help plugin"
                    ))
                }
                None if help => "plugin check",
                None => {
                    return Err(
                        "idic plugin needs a command: check or new; see idic help plugin".into(),
                    )
                }
            },
            "help" => {
                let topic = positional.next();
                return Ok(Cli {
                    command: Command::Help(match topic.as_deref() {
                        Some("plugins") => Some("plugins"),
                        Some("check-config") => Some("check-config"),
                        Some("doctor") => Some("doctor"),
                        Some("plugin") => Some("plugin"),
                        _ => None,
                    }),
                    ..cli
                });
            }
            "run" => "run",
            other => return Err(format!("unknown command {other:?}; see idic --help")),
        });
    }
    if verb == Some("check-config") || verb == Some("doctor") {
        if let Some(file) = positional.next() {
            cli.config_file = PathBuf::from(file);
            cli.config_given = true;
        }
    }
    let mut new_name = None;
    if verb == Some("plugin new") && !help {
        new_name =
            Some(positional.next().ok_or(
                "idic plugin new needs the plugin's name: idic plugin new NAME [--dir DIR]",
            )?);
    }
    let mut shell = None;
    if verb == Some("completions") && !help {
        let s = positional.next().unwrap_or_default();
        if !SHELLS.contains(&s.as_str()) {
            return Err(format!(
                "idic completions needs a shell: {}; e.g. idic completions bash > /etc/bash_completion.d/idic",
                SHELLS.join(", ")
            ));
        }
        shell = Some(s);
    }
    let mut library = None;
    if verb == Some("plugin check") && !help {
        library = Some(PathBuf::from(positional.next().ok_or(
            "idic plugin check needs the library file: idic plugin check PATH [--config FILE]",
        )?));
    }
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument {extra:?}; see idic --help"));
    }
    if help {
        cli.command = Command::Help(verb.filter(|v| *v != "run").map(|v| match v {
            "plugin check" | "plugin new" => "plugin",
            v => v,
        }));
    } else if cli.command != Command::Version {
        cli.command = match verb {
            Some("plugins") => Command::Plugins,
            Some("check-config") => Command::CheckConfig,
            Some("doctor") => Command::Doctor,
            Some("completions") => Command::Completions(shell.unwrap_or_default()),
            Some("manpage") => Command::Manpage,
            Some("plugin check") => Command::PluginCheck(library.unwrap_or_default()),
            Some("plugin new") => Command::PluginNew(new_name.unwrap_or_default()),
            _ => Command::Run,
        };
    }
    Ok(cli)
}

fn parse_bool(name: &str, inline: Option<&str>) -> Result<bool, String> {
    match inline {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(format!("flag -{name} takes true or false, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Cli {
        parse(args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn gostats_flags_work_with_one_or_two_dashes() {
        for dash in ["-", "--"] {
            let cli = check(&[
                &format!("{dash}config-file"),
                "/etc/idic.toml",
                &format!("{dash}loglevel=DEBUG"),
                &format!("{dash}check-stat-return"),
            ]);
            assert_eq!(cli.command, Command::Run);
            assert_eq!(cli.config_file, PathBuf::from("/etc/idic.toml"));
            assert_eq!(cli.loglevel.as_deref(), Some("DEBUG"));
            assert!(cli.check_stat_return);
        }
    }

    #[test]
    fn shard_flag_takes_k_of_n_and_refuses_anything_else() {
        let cli = check(&["check-config", "x.toml", "--shard", "2/5"]);
        assert_eq!(cli.shard, Some(Shard { index: 2, count: 5 }));
        assert_eq!(check(&["-shard=1/1"]).shard.map(|s| s.count), Some(1));
        let e = parse(["--shard".to_string(), "6/5".to_string()]).unwrap_err();
        assert!(e.contains("K/N"), "{e}");
    }

    #[test]
    fn config_file_defaults_to_idic_toml() {
        assert_eq!(check(&[]).config_file, PathBuf::from("idic.toml"));
    }

    #[test]
    fn plugin_check_takes_a_library_and_an_optional_config() {
        let cli = check(&["plugin", "check", "libx.so", "--config", "c.toml"]);
        assert_eq!(cli.command, Command::PluginCheck(PathBuf::from("libx.so")));
        assert_eq!(cli.config_file, PathBuf::from("c.toml"));
        assert!(cli.config_given);
        assert!(parse(["plugin".to_string()]).is_err());
        assert!(parse(["plugin".to_string(), "check".to_string()]).is_err());
        let cli = check(&["plugin", "new", "graphite", "--dir", "/tmp/x"]);
        assert_eq!(cli.command, Command::PluginNew("graphite".to_string()));
        assert_eq!(cli.dir, Some(PathBuf::from("/tmp/x")));
    }

    #[test]
    fn check_config_takes_a_file_argument() {
        let cli = check(&["check-config", "x.toml"]);
        assert_eq!(cli.command, Command::CheckConfig);
        assert_eq!(cli.config_file, PathBuf::from("x.toml"));
    }

    #[test]
    fn every_flag_of_the_table_is_accepted_and_every_verb_is_in_the_help() {
        for (flag, value, _) in FLAGS {
            let mut args = vec![format!("--{flag}")];
            if !value.is_empty() {
                args.push("x".into());
            }
            assert!(parse(args).is_ok(), "--{flag}");
        }
        for (verb, _, _) in VERBS.iter().filter(|(v, _, _)| *v != "run") {
            assert!(
                HELP.contains(&format!("idic {verb}")),
                "{verb} is not in the help"
            );
        }
        let cli = check(&["completions", "zsh"]);
        assert_eq!(cli.command, Command::Completions("zsh".into()));
        assert!(parse(["completions".to_string(), "tcsh".to_string()]).is_err());
        assert_eq!(check(&["manpage"]).command, Command::Manpage);
    }

    #[test]
    fn doctor_takes_an_optional_config_file() {
        let cli = check(&["doctor", "x.toml"]);
        assert_eq!(cli.command, Command::Doctor);
        assert_eq!(cli.config_file, PathBuf::from("x.toml"));
        assert_eq!(check(&["doctor"]).config_file, PathBuf::from("idic.toml"));
        assert_eq!(
            check(&["doctor", "--help"]).command,
            Command::Help(Some("doctor"))
        );
    }

    #[test]
    fn help_works_on_every_command() {
        assert_eq!(check(&["--help"]).command, Command::Help(None));
        assert_eq!(
            check(&["plugins", "--help"]).command,
            Command::Help(Some("plugins"))
        );
        assert_eq!(
            check(&["check-config", "-h"]).command,
            Command::Help(Some("check-config"))
        );
        assert_eq!(
            check(&["help", "plugins"]).command,
            Command::Help(Some("plugins"))
        );
    }

    #[test]
    fn version_flag_wins() {
        assert_eq!(check(&["-version"]).command, Command::Version);
    }

    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        assert!(parse(["-bogus".to_string()])
            .unwrap_err()
            .contains("unknown flag"));
        assert!(parse(["-config-file".to_string()])
            .unwrap_err()
            .contains("needs a file path"));
    }
}
