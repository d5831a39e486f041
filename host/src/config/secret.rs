//! `$env:NAME` secrets: the one way to keep passwords and tokens out of the file.

/// Resolves `value`: `$env:NAME` becomes the variable's value; anything else is
/// returned as is. The error names the variable, never a value.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    match value.strip_prefix("$env:") {
        None => Ok(value.to_string()),
        Some("") => Err("\"$env:\" names no environment variable".to_string()),
        Some(name) => std::env::var(name).map_err(|_| {
            format!("environment variable {name} is not set (the setting says \"$env:{name}\")")
        }),
    }
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
}
