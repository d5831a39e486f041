//! Reading abi_stable's layout-mismatch report (a long formatted text: the
//! original error is turned into text before it reaches the host) down to what
//! an author needs: the first differing type and field, and the idic-plugin-api
//! versions on both sides.

/// One line on an ABI mismatch, from abi_stable's `report`.
pub fn summarize(report: &str) -> String {
    let plugin_version = report
        .split_once("To <other>:")
        .and_then(|(_, other)| version_in(other))
        .unwrap_or_else(|| "an unknown version".to_string());
    let mut out = String::new();
    if let Some(block) = first_error_block(report) {
        let (route, ty) = route(block);
        if let Some(ty) = ty {
            out.push_str(&format!("the first difference is in type {ty}"));
            if !route.is_empty() {
                out.push_str(&format!(" (reached through {})", route.join(".")));
            }
            out.push_str(": ");
        }
        out.push_str(&errors(block).join("; "));
    } else {
        out.push_str("the layouts differ");
    }
    let same = if plugin_version == idic_plugin_api::API_VERSION {
        " (the same version with another layout: the plugin was built against a modified copy of idic-plugin-api)"
    } else {
        ""
    };
    format!(
        "{out}; this idic has idic-plugin-api {}, the plugin was built with idic-plugin-api {plugin_version}{same}",
        idic_plugin_api::API_VERSION
    )
}

/// The first `package:'idic-plugin-api' version:'X'` in `text`.
fn version_in(text: &str) -> Option<String> {
    let at = text.find("package:'idic-plugin-api' version:'")?;
    let rest = &text[at + "package:'idic-plugin-api' version:'".len()..];
    Some(rest.split('\'').next()?.to_string())
}

/// The text of the first `N error(s)` block with N > 0.
fn first_error_block(report: &str) -> Option<&str> {
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut offset = 0;
    for line in report.split_inclusive('\n') {
        if let Some((n, _)) = line.split_once(" error(s)") {
            if let Ok(n) = n.trim().parse::<usize>() {
                starts.push((offset, n));
            }
        }
        offset += line.len();
    }
    let i = starts.iter().position(|&(_, n)| n > 0)?;
    let end = starts.get(i + 1).map_or(report.len(), |&(s, _)| s);
    Some(&report[starts[i].0..end])
}

/// The named fields leading to the differing type, and that type.
fn route(block: &str) -> (Vec<String>, Option<String>) {
    let trace = block.split("Layout of expected type:").next().unwrap_or("");
    let mut fields = Vec::new();
    let mut last_type = None;
    let mut lines = trace.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if let Some(name) = line.strip_prefix("field_name:") {
            if name
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
            {
                fields.push(name.to_string());
            }
            if let Some(ty) = lines.next().and_then(|l| l.strip_prefix("type:")) {
                let ty = ty.trim().trim_start_matches("&'a").trim();
                if ty.starts_with(|c: char| c.is_uppercase()) && ty != "AFunctionPointer" {
                    last_type = Some(ty.to_string());
                }
            }
        }
    }
    // The first field named is on the root module's type.
    (fields, last_type)
}

/// `incompatible type size (280 here, 288 in the plugin)` and the like, the
/// first differing field named.
fn errors(block: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut field_named = false;
    let parts: Vec<&str> = block.split("\nError:").skip(1).collect();
    for part in parts {
        let what = part.lines().next().unwrap_or("").trim().to_string();
        let expected = section(part, "Expected:", "Found:");
        let found = section(part, "Found:", "\n\n");
        let field = |s: &str| {
            s.lines()
                .find_map(|l| l.trim().strip_prefix("field_name:").map(str::to_string))
        };
        match (field(&expected), field(&found)) {
            (Some(e), Some(f)) => {
                if !field_named {
                    field_named = true;
                    out.push(format!("{what}: field {e:?} here, {f:?} in the plugin"));
                }
            }
            _ => {
                let e = expected.trim().lines().next().unwrap_or("").trim();
                let f = found.trim().lines().next().unwrap_or("").trim();
                let item = if e.is_empty() && f.is_empty() {
                    what
                } else {
                    format!("{what} ({e} here, {f} in the plugin)")
                };
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
    }
    if out.is_empty() {
        out.push("the layouts differ".to_string());
    }
    out
}

/// The text of `part` between `from` and `to` (or its end).
fn section(part: &str, from: &str, to: &str) -> String {
    let Some((_, rest)) = part.split_once(from) else {
        return String::new();
    };
    rest.split(to).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Compared <this>:\n    package:'idic-plugin-api' version:'1.0.0'\nTo <other>:\n    package:'idic-plugin-api' version:'1.0.3'\n\n0 error(s).\n0 error(s)inside:\n    <other>\n\n    field_name:0\n    type:PluginMod\n\nLayout of expected type:\n    x\n\n8 error(s)inside:\n    <other>\n\n    field_name:0\n    type:PluginMod\n    size:48 align:8\n\n    field_name:open\n    type:AFunctionPointer\n\n    field_name:,\n    type:&'a  OpenContext \n\n    field_name:0\n    type:OpenContext\n    size:288 align:8\n\nLayout of expected type:\n    --- Type Layout ---\n\nLayout of found type:\n    y\n\nError:incompatible type size\nExpected:\n    280\nFound:\n    288\nError:too many fields\nExpected:\n    9\nFound:\n    10\nError:unexpected field\nExpected:\n    field_name:plugin_config\n    type:RString\nFound:\n    field_name:node_count\n    type:u64\nError:unexpected field\nExpected:\n    field_name:cluster_config\nFound:\n    field_name:plugin_config\n";

    #[test]
    fn names_the_type_the_route_the_first_field_and_both_versions() {
        let s = summarize(REPORT);
        assert!(
            s.starts_with("the first difference is in type OpenContext (reached through open): incompatible type size (280 here, 288 in the plugin); too many fields (9 here, 10 in the plugin); unexpected field: field \"plugin_config\" here, \"node_count\" in the plugin;"),
            "{s}"
        );
        assert!(
            s.contains("the plugin was built with idic-plugin-api 1.0.3"),
            "{s}"
        );
        assert!(!s.contains("cluster_config"), "only the first field: {s}");
    }

    #[test]
    fn unreadable_report_still_names_the_versions() {
        let s = summarize("something else");
        assert!(
            s.starts_with("the layouts differ; this idic has idic-plugin-api "),
            "{s}"
        );
    }
}
