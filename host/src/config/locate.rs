//! Finding where things are in the config text, for messages that say
//! `file:line:column`.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a path into the document: a table key or an array index.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A key of a table.
    Key(&'a str),
    /// An element of an array (of tables).
    Index(usize),
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The span of the value at `path`, or of its nearest existing ancestor.
pub fn span_of(root: &Spanned<DeTable<'_>>, path: &[Step<'_>]) -> Range<usize> {
    let mut span = root.span();
    let mut table = Some(root.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    for step in path {
        let next = match (*step, table, array) {
            (Step::Key(k), Some(t), _) => t.get(k),
            (Step::Index(i), _, Some(a)) => a.get(i),
            _ => None,
        };
        let Some(value) = next else { break };
        span = value.span();
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(a.as_ref()),
            _ => {}
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
    }

    #[test]
    fn span_of_finds_a_value_inside_an_array_of_tables() {
        let text = "[[cluster]]\nhostname = \"a\"\n[[cluster]]\nhostname = \"b\"\n";
        let doc = DeTable::parse(text).unwrap();
        let span = span_of(
            &doc,
            &[Step::Key("cluster"), Step::Index(1), Step::Key("hostname")],
        );
        assert_eq!(&text[span], "\"b\"");
    }
}
