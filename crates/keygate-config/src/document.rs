//! The parsed file as a tree of [`Node`]s, each remembering the line it came from, so that
//! every later problem can point at its line. Syntax errors become diagnostics with line
//! and column; the parser recovers where it can, so several are reported at once.

use std::collections::BTreeMap;
use std::fmt;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A dotted key path, `apim.throttling.url_group[0].type`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct KeyPath(pub(crate) Vec<Segment>);

impl KeyPath {
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    /// Parses a dotted path as written in `$ref{a.b.c}`; no indices.
    pub(crate) fn from_dotted(dotted: &str) -> Self {
        Self(
            dotted
                .split('.')
                .map(|k| Segment::Key(k.trim().to_owned()))
                .collect(),
        )
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key.to_owned()));
        next
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub(crate) fn parent(&self) -> Option<Self> {
        if self.0.is_empty() {
            None
        } else {
            Some(Self(self.0[..self.0.len() - 1].to_vec()))
        }
    }

    pub(crate) fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.len() >= prefix.0.len() && self.0[..prefix.0.len()] == prefix.0[..]
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if k.is_empty() || k.contains(['.', ' ', '"']) {
                        write!(f, "'{k}'")?;
                    } else {
                        f.write_str(k)?;
                    }
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A TOML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(BTreeMap<String, Node>),
}

impl Value {
    /// What kind of value this is, for messages: never the value itself.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A value with the line of its key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) line: usize,
    /// Set when the value was produced by a placeholder: such a string may stand for a
    /// number or a boolean (`offset = "$env{OFFSET}"`).
    pub(crate) substituted: bool,
}

impl Node {
    pub(crate) fn new(value: Value, line: usize) -> Self {
        Self {
            value,
            line,
            substituted: false,
        }
    }

    pub(crate) fn get(&self, path: &KeyPath) -> Option<&Node> {
        let mut node = self;
        for segment in &path.0 {
            node = match (segment, &node.value) {
                (Segment::Key(k), Value::Table(t)) => t.get(k)?,
                (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    pub(crate) fn get_mut(&mut self, path: &KeyPath) -> Option<&mut Node> {
        let mut node = self;
        for segment in &path.0 {
            node = match (segment, &mut node.value) {
                (Segment::Key(k), Value::Table(t)) => t.get_mut(k)?,
                (Segment::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The line of the node at `path`, or of its nearest ancestor present in the file.
    pub(crate) fn line_of(&self, path: &KeyPath) -> Option<usize> {
        let mut path = path.clone();
        loop {
            if path.is_root() {
                return None;
            }
            if let Some(node) = self.get(&path) {
                return Some(node.line);
            }
            path = path.parent()?;
        }
    }

    /// Removes the node at `path`; an array element is replaced by an empty table so that
    /// the indices of its siblings, and so their key paths, stay as written.
    pub(crate) fn remove(&mut self, path: &KeyPath) -> bool {
        let Some(parent) = path.parent() else {
            return false;
        };
        let Some(node) = self.get_mut(&parent) else {
            return false;
        };
        match (path.0.last(), &mut node.value) {
            (Some(Segment::Key(k)), Value::Table(t)) => t.remove(k).is_some(),
            (Some(Segment::Index(i)), Value::Array(a)) => match a.get_mut(*i) {
                Some(element) if element.value != Value::Table(BTreeMap::new()) => {
                    element.value = Value::Table(BTreeMap::new());
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// 1-based line and column of byte offsets in a text.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|start| *start <= offset).max(1)
    }

    pub(crate) fn column(&self, text: &str, offset: usize) -> usize {
        let line_start = self.starts[self.line(offset) - 1];
        text.get(line_start..offset)
            .map_or(1, |prefix| prefix.chars().count() + 1)
    }
}

/// Parses `text` into a tree; syntax errors come back as diagnostics, and whatever the
/// parser recovered is still returned so that the rest of the file is checked.
pub(crate) fn parse(text: &str) -> (Node, Vec<Diagnostic>) {
    let lines = LineIndex::new(text);
    let (table, errors) = DeTable::parse_recoverable(text);
    let diagnostics = errors
        .iter()
        .map(|e| {
            let mut d = Diagnostic::error(
                "",
                format!("TOML syntax error: {}", first_line(e.message())),
            );
            if let Some(span) = e.span() {
                d.line = Some(lines.line(span.start));
                d.column = Some(lines.column(text, span.start));
            }
            d
        })
        .collect();
    let root = Node::new(convert_table(table.get_ref(), &lines), 0);
    (root, diagnostics)
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}

fn convert_table(table: &DeTable<'_>, lines: &LineIndex) -> Value {
    let mut out = BTreeMap::new();
    for (key, value) in table.iter() {
        let line = lines.line(key.span().start);
        let value = convert_value(value.get_ref(), lines, line);
        out.insert(key.get_ref().to_string(), Node::new(value, line));
    }
    Value::Table(out)
}

fn convert_value(value: &DeValue<'_>, lines: &LineIndex, line: usize) -> Value {
    match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Integer(n),
            // Out of i64 range: kept as text, refused by whichever key expects a number.
            Err(_) => Value::Datetime(i.to_string()),
        },
        DeValue::Float(f) => Value::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| {
                    let item_line = lines.line(item.span().start).max(line);
                    Node::new(convert_value(item.get_ref(), lines, item_line), item_line)
                })
                .collect(),
        ),
        DeValue::Table(t) => convert_table(t, lines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_remember_their_lines() {
        let text =
            "[server]\nhostname = \"h\"\n\n[[apim.throttling.url_group]]\ntype = \"failover\"\n";
        let (root, errors) = parse(text);
        assert!(errors.is_empty());
        assert_eq!(
            root.line_of(&KeyPath::from_dotted("server.hostname")),
            Some(2)
        );
        let group_type = KeyPath::from_dotted("apim.throttling.url_group")
            .index(0)
            .key("type");
        assert_eq!(root.line_of(&group_type), Some(5));
        assert_eq!(group_type.to_string(), "apim.throttling.url_group[0].type");
        // A key not in the file points at its nearest ancestor.
        assert_eq!(
            root.line_of(&KeyPath::from_dotted("server.offset")),
            Some(1)
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let (_, errors) = parse("[server]\nhostname = \"h\"\noffset = = 3\n");
        assert!(!errors.is_empty());
        assert_eq!(errors[0].line, Some(3));
        assert!(errors[0].column.is_some());
        assert!(errors[0].message.starts_with("TOML syntax error"));
    }

    #[test]
    fn removing_an_array_element_keeps_sibling_indices() {
        let (mut root, _) = parse("[[a]]\nx = 1\n[[a]]\nx = 2\n");
        let first = KeyPath::from_dotted("a").index(0);
        assert!(root.remove(&first));
        assert!(!root.remove(&first));
        let second_x = KeyPath::from_dotted("a").index(1).key("x");
        assert_eq!(
            root.get(&second_x).map(|n| &n.value),
            Some(&Value::Integer(2))
        );
    }

    #[test]
    fn quoted_keys_print_quoted() {
        let path = KeyPath::from_dotted("event_listener")
            .index(0)
            .key("properties")
            .key("header.X");
        assert_eq!(path.to_string(), "event_listener[0].properties.'header.X'");
    }
}
