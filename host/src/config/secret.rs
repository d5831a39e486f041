//! Secrets kept out of the file: `$env:NAME` (an environment variable) and
//! `$file:/path` (a file's contents, as Docker and Kubernetes mount secrets).
//!
//! Resolved when used: at start, on every reconnect and on every reload, so a
//! rotated secret file is read again by the next reload (SIGHUP).

/// Resolves `value`: `$env:NAME` becomes the variable's value, `$file:/path` the
/// file's contents without one trailing line break; anything else is returned
/// as is. The error names the variable or file, never a value.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(path) = value.strip_prefix("$file:") {
        return read_file(path);
    }
    match value.strip_prefix("$env:") {
        None => Ok(value.to_string()),
        Some("") => Err("\"$env:\" names no environment variable".to_string()),
        Some(name) => std::env::var(name).map_err(|_| {
            format!("environment variable {name} is not set (the setting says \"$env:{name}\")")
        }),
    }
}

/// The name after `$env:` or the path after `$file:` of a secret setting.
pub fn reference(value: &str) -> Option<&str> {
    value
        .strip_prefix("$env:")
        .or_else(|| value.strip_prefix("$file:"))
}

fn read_file(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("\"$file:\" names no file: write $file:/run/secrets/NAME".to_string());
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!("cannot read the secret file {path} (the setting says \"$file:{path}\"): {e}; check that it exists and that idic's user may read it")
    })?;
    // `echo secret > file` and most editors end the file with a line break.
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_pass_through() {
        assert_eq!(resolve_secret("s3kret").unwrap(), "s3kret");
    }

    #[test]
    fn env_values_are_read_from_the_environment() {
        std::env::set_var("IDIC_TEST_SECRET_SET", "from-env");
        assert_eq!(
            resolve_secret("$env:IDIC_TEST_SECRET_SET").unwrap(),
            "from-env"
        );
    }

    #[test]
    fn unset_variable_is_named_in_the_error() {
        let err = resolve_secret("$env:IDIC_TEST_SECRET_UNSET").unwrap_err();
        assert!(err.contains("IDIC_TEST_SECRET_UNSET"), "{err}");
    }

    #[test]
    fn file_values_are_read_without_the_trailing_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file\n").unwrap();
        let value = format!("$file:{}", path.display());
        assert_eq!(resolve_secret(&value).unwrap(), "from-file");
        std::fs::write(&path, "two\nlines\r\n").unwrap();
        assert_eq!(resolve_secret(&value).unwrap(), "two\nlines");
    }

    #[test]
    fn a_missing_secret_file_is_named_but_no_value_is_shown() {
        let err = resolve_secret("$file:/nonexistent/idic-secret").unwrap_err();
        assert!(err.contains("/nonexistent/idic-secret"), "{err}");
        assert!(resolve_secret("$file:")
            .unwrap_err()
            .contains("names no file"));
    }
}
