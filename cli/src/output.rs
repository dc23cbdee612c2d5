//! Output: aligned text tables for people, JSON for scripts.
//!
//! Everything a command prints to stdout goes through [`print`] or
//! [`print_json`], which ignore a closed pipe (`clearhouse status | head`)
//! instead of panicking. Errors never go to stdout: `main` prints them.

use std::io::Write;

use serde::Serialize;

/// A table of rows of cells, printed with columns padded to the widest cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with a header row (underlined when rendered).
    pub fn with_header(header: &[&str]) -> Table {
        Table {
            header: Some(header.iter().map(|h| (*h).to_owned()).collect()),
            rows: Vec::new(),
        }
    }

    /// A two-column table of names and values, without header.
    pub fn key_values() -> Table {
        Table::default()
    }

    /// Appends a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Table {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    /// Appends a name/value row.
    pub fn field(&mut self, name: &str, value: impl Into<String>) -> &mut Table {
        self.row([name.to_owned(), value.into()])
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let mut lines: Vec<Vec<String>> = Vec::new();
        if let Some(header) = &self.header {
            lines.push(header.clone());
            lines.push(
                header
                    .iter()
                    .map(|h| "-".repeat(h.chars().count()))
                    .collect(),
            );
        }
        lines.extend(self.rows.iter().cloned());
        let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                lines
                    .iter()
                    .filter_map(|l| l.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut text = String::new();
        for line in &lines {
            let mut rendered = String::new();
            for (c, cell) in line.iter().enumerate() {
                if c + 1 == line.len() {
                    rendered.push_str(cell);
                } else {
                    let pad = widths[c].saturating_sub(cell.chars().count());
                    rendered.push_str(cell);
                    rendered.push_str(&" ".repeat(pad + 2));
                }
            }
            text.push_str(rendered.trim_end());
            text.push('\n');
        }
        text
    }
}

/// Writes `text` to stdout as is.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe is the reader's choice, not our failure.
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) {
    let text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    print(&format!("{text}\n"));
}

/// An optional value as a table cell: `-` when absent.
pub fn cell<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".into(), |value| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut table = Table::with_header(&["asset", "amount"]);
        table.row(["CNY", "12.50"]).row(["JPY", "7"]);
        assert_eq!(
            table.render(),
            "asset  amount\n-----  ------\nCNY    12.50\nJPY    7\n"
        );
        let mut fields = Table::key_values();
        fields.field("height", "12").field("state root", "ab");
        assert_eq!(fields.render(), "height      12\nstate root  ab\n");
    }

    #[test]
    fn absent_cells_are_dashes() {
        assert_eq!(cell(None::<u64>), "-");
        assert_eq!(cell(Some("x")), "x");
        assert_eq!(cell(Some(3)), "3");
    }
}
