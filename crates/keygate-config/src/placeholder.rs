//! Placeholders in values, resolved once at load, as WSO2's config mapper does:
//!
//! - `$ref{section.key}`: the value of another key of the same file; when it is the whole
//!   string, the value keeps its type (an integer stays an integer, an array an array);
//! - `$env{VAR}`: an environment variable;
//! - `${name}`: first one of WSO2's own properties, computed from the file
//!   (`carbon.management.port` is 9443 plus `[server] offset`, ...), then the environment.
//!
//! Placeholders may sit inside longer strings. A placeholder that cannot be resolved is
//! reported at the key that holds it, never with the value it would have had.

use std::collections::HashMap;

use crate::defaults;
use crate::document::{KeyPath, Node, Value};

/// One piece of a string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Ref(String),
    Env(String),
    Property(String),
}

/// A placeholder that is not closed, or names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("placeholder `{0}` has no closing `}}`")]
    Unterminated(&'static str),
    #[error("placeholder `{0}}}` names nothing")]
    Empty(&'static str),
}

/// Builds a piece from a placeholder's name.
type PieceMaker = fn(String) -> Piece;

const OPENERS: [(&str, PieceMaker); 3] = [
    ("$ref{", Piece::Ref),
    ("$env{", Piece::Env),
    ("${", Piece::Property),
];

/// Splits a string into text and placeholders.
pub(crate) fn parse_template(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    'scan: while let Some(dollar) = rest.find('$') {
        literal.push_str(&rest[..dollar]);
        let tail = &rest[dollar..];
        for (opener, make) in OPENERS {
            if let Some(after) = tail.strip_prefix(opener) {
                let Some(close) = after.find('}') else {
                    return Err(TemplateError::Unterminated(opener));
                };
                let name = after[..close].trim();
                if name.is_empty() {
                    return Err(TemplateError::Empty(opener));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(make(name.to_owned()));
                rest = &after[close + 1..];
                continue 'scan;
            }
        }
        literal.push('$');
        rest = &tail[1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// Writes pieces back as a string; `parse_template(render(p)) == p` for well-formed pieces.
#[cfg(test)]
pub(crate) fn render(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.clone(),
            Piece::Ref(n) => format!("$ref{{{n}}}"),
            Piece::Env(n) => format!("$env{{{n}}}"),
            Piece::Property(n) => format!("${{{n}}}"),
        })
        .collect()
}

/// Whether a string holds anything that looks like a placeholder.
fn has_placeholder(text: &str) -> bool {
    text.contains("${") || text.contains("$ref{") || text.contains("$env{")
}

/// Where environment variables come from: the process environment in `load_file`, a
/// closure in tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The file with every placeholder replaced, and the keys whose placeholders failed
/// (those keys are left out of the tree).
pub(crate) struct Resolution {
    pub(crate) tree: Node,
    pub(crate) failures: Vec<(KeyPath, String)>,
}

/// Resolves every placeholder in `raw`.
pub(crate) fn resolve(raw: &Node, env: EnvLookup<'_>) -> Resolution {
    let mut targets = Vec::new();
    collect_placeholders(raw, &KeyPath::root(), &mut targets);
    let mut resolver = Resolver {
        raw,
        env,
        done: HashMap::new(),
        active: Vec::new(),
        failures: Vec::new(),
    };
    let mut tree = raw.clone();
    for path in targets {
        let resolved = resolver.resolve_path(&path);
        match resolved {
            Some(node) => {
                if let Some(slot) = tree.get_mut(&path) {
                    *slot = node;
                }
            }
            None => {
                tree.remove(&path);
            }
        }
    }
    let mut failures = resolver.failures;
    failures.sort_by_key(|(path, _)| path.to_string());
    failures.dedup();
    Resolution { tree, failures }
}

/// The most a single value may weigh once its placeholders are resolved (bytes of text plus
/// one per array or table entry). Each `$ref` can copy a value, so references to
/// references would otherwise grow exponentially from a file of a few hundred bytes.
pub(crate) const MAX_RESOLVED_WEIGHT: usize = 64 * 1024;

/// Whether `node` weighs more than `budget`, stopping as soon as it does.
fn weight_exceeds(node: &Node, budget: usize) -> bool {
    fn spend(node: &Node, left: &mut usize) -> bool {
        let cost = match &node.value {
            Value::String(s) => s.len(),
            _ => 1,
        };
        if cost > *left {
            return true;
        }
        *left -= cost;
        match &node.value {
            Value::Array(items) => items.iter().any(|item| spend(item, left)),
            Value::Table(entries) => entries.values().any(|child| spend(child, left)),
            _ => false,
        }
    }
    let mut left = budget;
    spend(node, &mut left)
}

fn collect_placeholders(node: &Node, path: &KeyPath, out: &mut Vec<KeyPath>) {
    match &node.value {
        Value::String(s) if has_placeholder(s) => out.push(path.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_placeholders(item, &path.index(i), out);
            }
        }
        Value::Table(entries) => {
            for (key, child) in entries {
                collect_placeholders(child, &path.key(key), out);
            }
        }
        _ => {}
    }
}

enum Fetch {
    Found(Node),
    Missing,
    Cycle,
    Failed,
}

struct Resolver<'a> {
    raw: &'a Node,
    env: EnvLookup<'a>,
    done: HashMap<KeyPath, Option<Node>>,
    active: Vec<KeyPath>,
    failures: Vec<(KeyPath, String)>,
}

impl Resolver<'_> {
    fn fail(&mut self, path: &KeyPath, message: String) {
        self.failures.push((path.clone(), message));
    }

    fn fetch(&mut self, path: &KeyPath) -> Fetch {
        if self.active.contains(path) {
            return Fetch::Cycle;
        }
        if self.raw.get(path).is_none() {
            return Fetch::Missing;
        }
        match self.resolve_path(path) {
            Some(node) => Fetch::Found(node),
            None => Fetch::Failed,
        }
    }

    fn resolve_path(&mut self, path: &KeyPath) -> Option<Node> {
        if let Some(done) = self.done.get(path) {
            return done.clone();
        }
        let raw = self.raw.get(path)?.clone();
        self.active.push(path.clone());
        let mut result = self.resolve_node(raw, path);
        self.active.pop();
        if result
            .as_ref()
            .is_some_and(|node| weight_exceeds(node, MAX_RESOLVED_WEIGHT))
        {
            self.fail(
                path,
                format!(
                    "placeholders expand this value past {} KiB; references that repeat references grow without bound",
                    MAX_RESOLVED_WEIGHT / 1024
                ),
            );
            result = None;
        }
        self.done.insert(path.clone(), result.clone());
        result
    }

    fn resolve_node(&mut self, node: Node, path: &KeyPath) -> Option<Node> {
        match node.value {
            Value::String(text) if has_placeholder(&text) => {
                self.resolve_string(&text, node.line, path)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    out.push(self.resolve_child(item, &path.index(i))?);
                }
                Some(Node::new(Value::Array(out), node.line))
            }
            Value::Table(entries) => {
                let mut out = std::collections::BTreeMap::new();
                for (key, child) in entries {
                    let resolved = self.resolve_child(child, &path.key(&key))?;
                    out.insert(key, resolved);
                }
                Some(Node::new(Value::Table(out), node.line))
            }
            value => Some(Node {
                value,
                line: node.line,
                substituted: node.substituted,
            }),
        }
    }

    fn resolve_child(&mut self, child: Node, path: &KeyPath) -> Option<Node> {
        if self.raw.get(path).is_some() {
            self.resolve_path(path)
        } else {
            self.resolve_node(child, path)
        }
    }

    fn resolve_string(&mut self, text: &str, line: usize, path: &KeyPath) -> Option<Node> {
        let pieces = match parse_template(text) {
            Ok(pieces) => pieces,
            Err(e) => {
                self.fail(path, e.to_string());
                return None;
            }
        };
        if let [Piece::Ref(target)] = pieces.as_slice() {
            let node = self.reference(target, path)?;
            return Some(Node {
                value: node.value,
                line,
                substituted: true,
            });
        }
        let mut out = String::new();
        let mut ok = true;
        for piece in &pieces {
            let part = match piece {
                Piece::Text(t) => Some(t.clone()),
                Piece::Ref(target) => self.reference(target, path).and_then(|node| {
                    let text = scalar_text(&node.value);
                    if text.is_none() {
                        self.fail(
                            path,
                            format!(
                                "`$ref{{{target}}}` is {} and cannot be placed inside a string",
                                node.value.kind()
                            ),
                        );
                    }
                    text
                }),
                Piece::Env(var) => {
                    let value = (self.env)(var);
                    if value.is_none() {
                        self.fail(
                            path,
                            format!("`$env{{{var}}}`: environment variable `{var}` is not set"),
                        );
                    }
                    value
                }
                Piece::Property(name) => self.property(name, path),
            };
            match part {
                Some(part) => out.push_str(&part),
                None => ok = false,
            }
        }
        ok.then_some(Node {
            value: Value::String(out),
            line,
            substituted: true,
        })
    }

    fn reference(&mut self, target: &str, path: &KeyPath) -> Option<Node> {
        let target_path = KeyPath::from_dotted(target);
        match self.fetch(&target_path) {
            Fetch::Found(node) => Some(node),
            Fetch::Missing => {
                self.fail(
                    path,
                    format!("`$ref{{{target}}}`: no key `{target}` in this file"),
                );
                None
            }
            Fetch::Cycle => {
                self.fail(path, format!("`$ref{{{target}}}` refers back to itself"));
                None
            }
            Fetch::Failed => {
                self.fail(
                    path,
                    format!("`$ref{{{target}}}` refers to a value that cannot be resolved"),
                );
                None
            }
        }
    }

    /// `${name}`: WSO2's computed properties, then the environment.
    fn property(&mut self, name: &str, path: &KeyPath) -> Option<String> {
        match self.wso2_property(name) {
            Some(Ok(value)) => Some(value),
            Some(Err(reason)) => {
                self.fail(path, format!("`${{{name}}}` cannot be computed: {reason}"));
                None
            }
            None => {
                let value = (self.env)(name);
                if value.is_none() {
                    self.fail(
                        path,
                        format!(
                            "`${{{name}}}` is neither a property keygate computes nor a set environment variable"
                        ),
                    );
                }
                value
            }
        }
    }

    fn wso2_property(&mut self, name: &str) -> Option<Result<String, String>> {
        let base = match name {
            "carbon.protocol" => return Some(Ok("https".to_owned())),
            "carbon.context" => return Some(Ok("/".to_owned())),
            "carbon.host" => return Some(self.text_key("server.hostname", defaults::HOSTNAME)),
            "admin.username" => {
                return Some(self.text_key("super_admin.username", defaults::ADMIN_USERNAME));
            }
            "admin.password" => {
                return Some(
                    match self.fetch(&KeyPath::from_dotted("super_admin.password")) {
                        Fetch::Found(node) => scalar_text(&node.value)
                            .ok_or_else(|| "`super_admin.password` is not a string".to_owned()),
                        Fetch::Missing => Err("`super_admin.password` is not set".to_owned()),
                        Fetch::Cycle => {
                            Err("`super_admin.password` is defined through itself".into())
                        }
                        Fetch::Failed => {
                            Err("`super_admin.password` cannot be resolved".to_owned())
                        }
                    },
                );
            }
            "carbon.management.port" | "mgt.transport.https.port" => {
                defaults::MANAGEMENT_HTTPS_PORT
            }
            "mgt.transport.http.port" => defaults::MANAGEMENT_HTTP_PORT,
            "https.nio.port" => defaults::GATEWAY_HTTPS_PORT,
            "http.nio.port" => defaults::GATEWAY_HTTP_PORT,
            "Ports.EmbeddedLDAP.LDAPServerPort" => defaults::EMBEDDED_LDAP_PORT,
            _ => return None,
        };
        Some(self.offset().and_then(|offset| {
            base.checked_add(offset)
                .map(|p| p.to_string())
                .ok_or_else(|| format!("port {base} plus offset {offset} exceeds 65535"))
        }))
    }

    fn text_key(&mut self, dotted: &str, default: &str) -> Result<String, String> {
        match self.fetch(&KeyPath::from_dotted(dotted)) {
            Fetch::Found(node) => {
                scalar_text(&node.value).ok_or_else(|| format!("`{dotted}` is not a string"))
            }
            Fetch::Missing => Ok(default.to_owned()),
            Fetch::Cycle => Err(format!("`{dotted}` is defined through itself")),
            Fetch::Failed => Err(format!("`{dotted}` cannot be resolved")),
        }
    }

    fn offset(&mut self) -> Result<u16, String> {
        match self.fetch(&KeyPath::from_dotted("server.offset")) {
            Fetch::Found(node) => {
                let number = match &node.value {
                    Value::Integer(n) => Some(*n),
                    Value::String(s) => s.trim().parse::<i64>().ok(),
                    _ => None,
                };
                number
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| "`server.offset` is not a port offset".to_owned())
            }
            Fetch::Missing => Ok(0),
            Fetch::Cycle => Err("`server.offset` is defined through itself".to_owned()),
            Fetch::Failed => Err("`server.offset` cannot be resolved".to_owned()),
        }
    }
}

/// A scalar as text, for placing inside a longer string.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) | Value::Datetime(s) => Some(s.clone()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Array(_) | Value::Table(_) => None,
    }
}

#[cfg(test)]
mod tests;
