//! What doctor found: one [`Step`] per check with a verdict, what was seen and,
//! for a failure, the fix; rendered as an aligned text report.

use std::fmt::Write as _;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Usable.
    Ok,
    /// Usable, but worth a look (not counted as a problem).
    Warn,
    /// Not usable: the fix says what to change.
    Fail,
    /// Not run, because an earlier step failed.
    Skip,
}

/// One check.
#[derive(Debug, Clone)]
pub struct Step {
    /// What was checked (`TLS`, `login`, ...).
    pub what: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// What to change, for a failure or a warning.
    pub fix: Option<String>,
}

impl Step {
    /// A passed check.
    pub fn ok(what: &'static str, detail: impl Into<String>) -> Step {
        Step {
            what,
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A failed check and its fix.
    pub fn fail(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Step {
        Step {
            what,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A warning and what to do about it.
    pub fn warn(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Step {
        Step {
            what,
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check not run.
    pub fn skip(what: &'static str) -> Step {
        Step {
            what,
            verdict: Verdict::Skip,
            detail: "not checked: an earlier step failed".into(),
            fix: None,
        }
    }
}

/// The steps of one subject (a cluster or a sink).
#[derive(Debug, Clone)]
pub struct Section {
    /// `cluster 127.0.0.1:8080`, `sink influxdb`.
    pub title: String,
    /// Its checks in order.
    pub steps: Vec<Step>,
}

/// Renders the report; returns the text and the number of failures.
pub fn render(sections: &[Section]) -> (String, usize) {
    let mut out = String::new();
    let mut failures = 0;
    for s in sections {
        let _ = writeln!(out, "{}", s.title);
        for step in &s.steps {
            let tag = match step.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "WARN",
                Verdict::Fail => {
                    failures += 1;
                    "FAIL"
                }
                Verdict::Skip => "skip",
            };
            let _ = writeln!(out, "  {tag}  {}: {}", step.what, step.detail);
            if let Some(fix) = &step.fix {
                let _ = writeln!(out, "        fix: {fix}");
            }
        }
    }
    if failures == 0 {
        out.push_str("doctor: everything checked is usable\n");
    } else {
        let _ = writeln!(
            out,
            "doctor: {failures} problem(s) found; see the fixes above"
        );
    }
    (out, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_show_their_fix() {
        let sections = [Section {
            title: "cluster h:8080".into(),
            steps: vec![
                Step::ok("TCP connect", "h:8080"),
                Step::fail("TLS", "unknown issuer", "set ca_cert"),
                Step::skip("login"),
            ],
        }];
        let (text, failures) = render(&sections);
        assert_eq!(failures, 1);
        assert_eq!(
            text,
            "cluster h:8080\n  ok    TCP connect: h:8080\n  FAIL  TLS: unknown issuer\n        fix: set ca_cert\n  skip  login: not checked: an earlier step failed\ndoctor: 1 problem(s) found; see the fixes above\n"
        );
    }
}
