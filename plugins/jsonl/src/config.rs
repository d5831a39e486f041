//! The `[jsonl]` section of `idic.toml`: where the lines go and whether an existing
//! file is kept. Parsing only; opening the file is `output`'s job.

use serde::Deserialize;

/// The `[jsonl]` section. Every key is optional; an absent section means "append
/// to standard output".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where to write the lines.
    ///
    /// A file path (a relative path starts from idic's working directory; the
    /// folder must exist), or `-` for standard output. Every cluster writes to the
    /// same place, each point tagged with its cluster. Default `"-"`.
    pub path: String,
    /// Keep what the file already holds and add to its end.
    ///
    /// `false` empties the file the first time this idic process opens it (not
    /// again on a configuration reload, nor for the next cluster). Ignored for
    /// standard output. Default `true`.
    pub append: bool,
}

impl Config {
    /// Reads the section's TOML text (its keys, without the `[jsonl]` header).
    /// The error names the section and the offending key.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| format!("[jsonl] {}", e.message().trim_end()))?;
        if config.path.is_empty() {
            return Err(
                "[jsonl] path is empty: give a file name, or \"-\" for standard output".to_string(),
            );
        }
        Ok(config)
    }

    /// Whether the lines go to standard output.
    pub fn is_stdout(&self) -> bool {
        self.path == "-"
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            path: "-".to_string(),
            append: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(&str, bool), &str>) {
        let got = Config::parse(text);
        match expected {
            Ok((path, append)) => assert_eq!(
                got,
                Ok(Config {
                    path: path.to_string(),
                    append
                })
            ),
            Err(needle) => {
                let err = got.unwrap_err();
                assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn empty_section_means_append_to_stdout() {
        check("", Ok(("-", true)));
        assert!(Config::parse("").unwrap().is_stdout());
    }

    #[test]
    fn path_and_append_are_read() {
        check(
            "path = \"/var/tmp/idic.jsonl\"\nappend = false\n",
            Ok(("/var/tmp/idic.jsonl", false)),
        );
        check("path = \"out.jsonl\"", Ok(("out.jsonl", true)));
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        check("pth = \"x\"", Err("[jsonl] unknown field `pth`"));
    }

    #[test]
    fn wrong_type_names_the_section() {
        check("append = \"yes\"", Err("[jsonl] invalid type"));
    }

    #[test]
    fn empty_path_is_refused() {
        check("path = \"\"", Err("[jsonl] path is empty"));
    }
}
