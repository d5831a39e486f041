//! Pure text work: how families of series become an exposition body in the
//! Prometheus text format 0.0.4 or OpenMetrics 1.0. No locks, no I/O, no clock:
//! which samples are live is the store's business. The names and label sets
//! (gostats' rules) are `idic-promnames`', shared with the `remote_write`
//! plugin; they are re-exported here with the one adaptation this plugin needs
//! ([`for_each_sample`] hands over the rendered label set).

pub use idic_promnames::{
    label_name, metric_name, push_label_value, push_metric_name, Scratch, PREFIX, SKIPPED_FIELD,
    TIMED_SUMMARIES, TIME_FIELD,
};

/// The exposition format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: timestamps in milliseconds.
    Text,
    /// OpenMetrics 1.0 text: timestamps in seconds, `# EOF` at the end.
    OpenMetrics,
}

impl Format {
    /// Picks the format from a scrape's `Accept` header: OpenMetrics when the
    /// scraper lists `application/openmetrics-text` with a non-zero quality
    /// (Prometheus does since 2.5), else the text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/openmetrics-text")
                    && !parts.any(|p| {
                        let p = p.trim();
                        p.strip_prefix("q=")
                            .and_then(|q| q.trim().parse::<f64>().ok())
                            .is_some_and(|q| q <= 0.0)
                    })
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Calls `emit(metric name, rendered labels, value)` for every exported sample
/// of `point` (see [`idic_promnames::for_each_sample`]).
pub fn for_each_sample(
    point: &idic_plugin_api::Point,
    instance: Option<(&str, &str)>,
    scratch: &mut Scratch,
    mut emit: impl FnMut(&str, &str, f64),
) {
    idic_promnames::for_each_sample(point, instance, scratch, |name, labels, value| {
        emit(name, labels.text(), value)
    });
}

/// format; also the double quote in OpenMetrics.
pub fn push_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends a sample value: integral values without a fraction (`42`, exact up to
/// 9e18), others in the
/// shortest form that reads back exactly (`0.25`, `1e+300`), and `NaN`, `+Inf`,
/// `-Inf`.
pub fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9e18 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(zmij::Buffer::new().format_finite(v));
    }
}

/// Appends one family, its HELP and TYPE lines and one line per series, to
/// `out`; `series` gives (rendered label set, value, Unix seconds) in the order
/// to write them. Nothing is written for a family without series. Returns the
/// number of series written.
pub fn render_family<'a>(
    out: &mut String,
    format: Format,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (&'a str, f64, i64)>,
) -> usize {
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return 0;
    }
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    push_help(out, help, format);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push_str(" gauge\n");
    render_lines(out, format, name, series)
}

/// Appends one line per series of family `name` (no header): the
/// continuation of [`render_family`]. Returns the number of lines written.
pub fn render_lines<'a>(
    out: &mut String,
    format: Format,
    name: &str,
    series: impl IntoIterator<Item = (&'a str, f64, i64)>,
) -> usize {
    let mut written = 0;
    let mut ints = itoa::Buffer::new();
    for (labels, value, time) in series {
        out.push_str(name);
        out.push_str(labels);
        out.push(' ');
        push_value(out, value);
        // A snapshot's sample has no timestamp: the scrape's time is its time.
        match format {
            _ if time == crate::snapshot::NO_TIME => {}
            Format::Text => {
                out.push(' ');
                out.push_str(ints.format(time.saturating_mul(1000)));
            }
            Format::OpenMetrics => {
                out.push(' ');
                out.push_str(ints.format(time));
            }
        }
        out.push('\n');
        written += 1;
    }
    written
}

/// Appends what ends a body: `# EOF` in OpenMetrics, nothing in the text format.
pub fn finish(out: &mut String, format: Format) {
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_short_and_exact() {
        let check = |v: f64, want: &str| {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s, want);
            if v.is_finite() {
                assert_eq!(s.parse::<f64>().unwrap(), v);
            }
        };
        check(0.0, "0");
        check(-0.0, "0");
        check(42.0, "42");
        check(-7.0, "-7");
        check(0.25, "0.25");
        check(1e300, "1e+300");
        check(123456789012345.0, "123456789012345");
        check(1969570185969664.0, "1969570185969664");
        check(3.25e-5, "0.0000325");
        check(1e19, "1e+19");
        check(1.5e-7, "1.5e-7");
        check(f64::NAN, "NaN");
        check(f64::INFINITY, "+Inf");
        check(f64::NEG_INFINITY, "-Inf");
    }

    #[test]
    fn help_escaping_depends_on_the_format() {
        let mut s = String::new();
        push_help(&mut s, "a \\ \"b\"\nc", Format::Text);
        assert_eq!(s, "a \\\\ \"b\"\\nc");
        s.clear();
        push_help(&mut s, "a \\ \"b\"\nc", Format::OpenMetrics);
        assert_eq!(s, "a \\\\ \\\"b\\\"\\nc");
    }

    #[test]
    fn accept_header_picks_the_format() {
        let check =
            |accept: Option<&str>, want: Format| assert_eq!(Format::negotiate(accept), want);
        check(None, Format::Text);
        check(Some("*/*"), Format::Text);
        check(Some("text/plain;version=0.0.4"), Format::Text);
        check(
            Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::OpenMetrics,
        );
        check(Some("application/openmetrics-text; q=0"), Format::Text);
    }

    #[test]
    fn a_family_gets_its_header_once_and_timestamps_per_format() {
        let series = [("{cluster=\"c1\"}", 1.5, 10), ("{cluster=\"c2\"}", 2.0, 11)];
        let mut text = String::new();
        assert_eq!(
            render_family(
                &mut text,
                Format::Text,
                "isilon_stat_a",
                "Idle \"CPU\"",
                series
            ),
            2
        );
        finish(&mut text, Format::Text);
        assert_eq!(
            text,
            "# HELP isilon_stat_a Idle \"CPU\"\n# TYPE isilon_stat_a gauge\n\
             isilon_stat_a{cluster=\"c1\"} 1.5 10000\nisilon_stat_a{cluster=\"c2\"} 2 11000\n"
        );
        let mut om = String::new();
        render_family(
            &mut om,
            Format::OpenMetrics,
            "isilon_stat_a",
            "Idle \"CPU\"",
            series,
        );
        finish(&mut om, Format::OpenMetrics);
        assert_eq!(
            om,
            "# HELP isilon_stat_a Idle \\\"CPU\\\"\n# TYPE isilon_stat_a gauge\n\
             isilon_stat_a{cluster=\"c1\"} 1.5 10\nisilon_stat_a{cluster=\"c2\"} 2 11\n# EOF\n"
        );
    }

    #[test]
    fn a_family_without_series_writes_nothing() {
        let mut out = String::new();
        assert_eq!(
            render_family(&mut out, Format::Text, "isilon_stat_b", "h", []),
            0
        );
        assert_eq!(out, "");
    }
}
