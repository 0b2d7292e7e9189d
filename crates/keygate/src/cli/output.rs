//! How answers are printed: aligned columns for people, JSON for scripts.

use super::OutputFormat;
use serde::Serialize;

/// Rows under headers, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Prints `value` as JSON, or as the table `rows` make of it.
pub fn print<T: Serialize>(
    format: OutputFormat,
    value: &T,
    headers: &[&str],
    rows: impl FnOnce() -> Vec<Vec<String>>,
) {
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(value) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("keygate: cannot print the answer as JSON: {e}"),
        },
        OutputFormat::Table => print!("{}", table(headers, &rows())),
    }
}

/// Prints a one-line confirmation, or `{"<key>": "<value>", "status": ...}` in JSON.
pub fn done(format: OutputFormat, message: &str, json: serde_json::Value) {
    match format {
        OutputFormat::Json => println!("{json}"),
        OutputFormat::Table => println!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let out = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "orders".into()],
                vec!["22".into(), "x".into()],
            ],
        );
        assert_eq!(out, "ID  NAME\n1   orders\n22  x\n");
    }
}
