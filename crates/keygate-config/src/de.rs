//! A serde `Deserializer` over the parsed tree that knows where it is: every error carries
//! the key path it happened at, an unknown key comes back with the keys that were expected
//! (for a "did you mean"), and error texts name types, never values.
//!
//! [`deserialize_all`] deserializes the file-facing structs, and on each error records it,
//! removes the offending key and tries again, so that one run reports every bad key of the
//! file rather than the first.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::{StrDeserializer, StringDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde::forward_to_deserialize_any;

use crate::document::{KeyPath, Node, Value};

/// The newtype-struct name by which [`Unsupported`] tells the deserializer to note its path.
const UNSUPPORTED: &str = "$keygate::config::unsupported";

/// A WSO2 key or table keygate accepts and ignores; the loader warns once for each one
/// present, naming it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Unsupported;

impl<'de> de::Deserialize<'de> for Unsupported {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Skip;
        impl<'de> Visitor<'de> for Skip {
            type Value = Unsupported;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Unsupported, E> {
                Ok(Unsupported)
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Unsupported, D::Error> {
                <de::IgnoredAny as de::Deserialize>::deserialize(d).map(|_| Unsupported)
            }
        }
        deserializer.deserialize_newtype_struct(UNSUPPORTED, Skip)
    }
}

/// What went wrong at one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeErrorKind {
    /// A key the table does not have; `expected` lists the keys it does have.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// Anything else, worded for the user.
    Message(String),
}

/// A deserialization error with the key path it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeError {
    pub(crate) path: Option<KeyPath>,
    pub(crate) kind: DeErrorKind,
}

impl DeError {
    fn message(message: impl Into<String>) -> Self {
        Self {
            path: None,
            kind: DeErrorKind::Message(message.into()),
        }
    }

    /// Sets the path unless an inner layer already did.
    fn at(mut self, path: &KeyPath) -> Self {
        if self.path.is_none() {
            self.path = Some(path.clone());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeErrorKind::UnknownField { field, .. } => write!(f, "unknown key `{field}`"),
            DeErrorKind::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::message(msg.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::message(format!(
            "expected {}, found {}",
            plain_expected(expected),
            unexpected_kind(&unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let shown = match unexpected {
            Unexpected::Signed(n) => format!(" {n}"),
            Unexpected::Unsigned(n) => format!(" {n}"),
            Unexpected::Float(n) => format!(" {n}"),
            _ => String::new(),
        };
        Self::message(format!(
            "invalid value{shown}, expected {}",
            plain_expected(expected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn de::Expected) -> Self {
        Self::message(format!(
            "{len} elements, expected {}",
            plain_expected(expected)
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::message(format!(
            "unknown value `{variant}`, expected one of {}",
            quoted_list(expected)
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self {
            path: None,
            kind: DeErrorKind::UnknownField {
                field: field.to_owned(),
                expected,
            },
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self::message(format!("key `{field}` is required"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::message(format!(
            "key `{field}` is given twice (under two of its names)"
        ))
    }
}

/// `a`, `b` and `c`, for messages.
pub(crate) fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn unexpected_kind(unexpected: &Unexpected<'_>) -> &'static str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a float",
        Unexpected::Char(_) | Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "nothing",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct | Unexpected::NewtypeVariant => "a value",
        Unexpected::Seq => "an array",
        Unexpected::Map | Unexpected::StructVariant => "a table",
        Unexpected::Enum | Unexpected::UnitVariant | Unexpected::TupleVariant => "a value",
        Unexpected::Other(_) => "something else",
    }
}

/// serde's wording of a Rust type, in TOML's words.
fn plain_expected(expected: &dyn de::Expected) -> String {
    let text = expected.to_string();
    match text.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
            let range = match text.as_str() {
                "u16" => " from 0 to 65535",
                "u8" => " from 0 to 255",
                t if t.starts_with('u') => " of zero or more",
                _ => "",
            };
            format!("an integer{range}")
        }
        "f32" | "f64" => "a number".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        t if t.starts_with("struct ") => "a table".to_owned(),
        _ => text,
    }
}

/// Deserializes one node; `unsupported` collects the paths of [`Unsupported`] values.
pub(crate) struct NodeDeserializer<'de> {
    node: &'de Node,
    path: KeyPath,
    unsupported: &'de RefCell<Vec<KeyPath>>,
}

impl<'de> NodeDeserializer<'de> {
    fn child(&self, node: &'de Node, path: KeyPath) -> Self {
        Self {
            node,
            path,
            unsupported: self.unsupported,
        }
    }

    fn substituted_text(&self) -> Option<&'de str> {
        match &self.node.value {
            Value::String(s) if self.node.substituted => Some(s.trim()),
            _ => None,
        }
    }

    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(text) = self.substituted_text() {
            return match text.parse::<i64>() {
                Ok(n) => visitor.visit_i64(n),
                Err(_) => Err(DeError::message(
                    "expected an integer, found a placeholder that resolved to other text",
                )
                .at(&self.path)),
            };
        }
        self.deserialize_any_value(visitor)
    }

    fn deserialize_any_value<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        let result = match &self.node.value {
            Value::String(s) | Value::Datetime(s) => visitor.visit_str(s),
            Value::Integer(n) => visitor.visit_i64(*n),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::Array(items) => visitor.visit_seq(NodeSeq {
                items: items.iter().enumerate(),
                parent: &self,
            }),
            Value::Table(entries) => visitor.visit_map(NodeMap {
                entries: entries.iter(),
                pending: None,
                parent: &self,
            }),
        };
        result.map_err(|e| e.at(&path))
    }
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any_value(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Some(text) = self.substituted_text() {
            return match text.to_ascii_lowercase().as_str() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                _ => Err(DeError::message(
                    "expected a boolean, found a placeholder that resolved to other text",
                )
                .at(&self.path)),
            };
        }
        self.deserialize_any_value(visitor)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.integer(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == UNSUPPORTED {
            self.unsupported.borrow_mut().push(self.path.clone());
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::String(s) => {
                let access: StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                visitor.visit_enum(access).map_err(|e| e.at(&self.path))
            }
            other => Err(
                DeError::message(format!("expected a string, found {}", other.kind()))
                    .at(&self.path),
            ),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier
    }
}

struct NodeSeq<'de, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Node>>,
    parent: &'p NodeDeserializer<'de>,
}

impl<'de> SeqAccess<'de> for NodeSeq<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = self.parent.path.index(i);
        seed.deserialize(self.parent.child(item, path.clone()))
            .map(Some)
            .map_err(|e| e.at(&path))
    }
}

struct NodeMap<'de, 'p> {
    entries: std::collections::btree_map::Iter<'de, String, Node>,
    pending: Option<(KeyPath, &'de Node)>,
    parent: &'p NodeDeserializer<'de>,
}

impl<'de> MapAccess<'de> for NodeMap<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, node)) = self.entries.next() else {
            return Ok(None);
        };
        let path = self.parent.path.key(key);
        let key_de: StringDeserializer<DeError> = key.clone().into_deserializer();
        let key = seed.deserialize(key_de).map_err(|e| e.at(&path))?;
        self.pending = Some((path, node));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((path, node)) = self.pending.take() else {
            return Err(DeError::message("a value without its key"));
        };
        seed.deserialize(self.parent.child(node, path.clone()))
            .map_err(|e| e.at(&path))
    }
}

/// One key refused while deserializing, with what was at that path.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub(crate) path: KeyPath,
    pub(crate) kind: DeErrorKind,
    pub(crate) line: Option<usize>,
    /// Whether the refused value was a table or an array of tables.
    pub(crate) is_table: bool,
}

/// The outcome of [`deserialize_all`].
pub(crate) struct Deserialized<T> {
    /// The structs, once every refused key is removed; `None` only if the root itself fails.
    pub(crate) value: Option<T>,
    pub(crate) refused: Vec<Refused>,
    /// Paths of the [`Unsupported`] keys present.
    pub(crate) unsupported: Vec<KeyPath>,
}

/// Deserializes `tree` into `T`, removing and recording each refused key until the rest
/// deserializes.
pub(crate) fn deserialize_all<T: DeserializeOwned>(mut tree: Node) -> Deserialized<T> {
    let mut refused = Vec::new();
    // Every retry removes one node, so the file's size bounds the loop; the cap guards it.
    for _ in 0..10_000 {
        let unsupported = RefCell::new(Vec::new());
        let result = T::deserialize(NodeDeserializer {
            node: &tree,
            path: KeyPath::root(),
            unsupported: &unsupported,
        });
        match result {
            Ok(value) => {
                return Deserialized {
                    value: Some(value),
                    refused,
                    unsupported: unsupported.into_inner(),
                };
            }
            Err(error) => {
                let path = error.path.unwrap_or_default();
                let node = tree.get(&path);
                let is_table = node.is_some_and(|n| match &n.value {
                    Value::Table(_) => true,
                    Value::Array(items) => items.iter().all(|i| matches!(i.value, Value::Table(_))),
                    _ => false,
                });
                let line = tree.line_of(&path);
                refused.push(Refused {
                    path: path.clone(),
                    kind: error.kind,
                    line,
                    is_table,
                });
                if !tree.remove(&path) {
                    break;
                }
            }
        }
    }
    Deserialized {
        value: None,
        refused,
        unsupported: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        enable: Option<bool>,
        port: Option<u16>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Option<Inner>,
        name: Option<String>,
        list: Option<Vec<Inner>>,
        legacy: Option<Unsupported>,
    }

    fn run(text: &str) -> Deserialized<Outer> {
        let (tree, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        deserialize_all(tree)
    }

    #[test]
    fn every_bad_key_is_refused_in_one_run() {
        let out = run(
            "name = 5\n[inner]\nenable = \"yes\"\nport = 70000\nenabel = true\n[[list]]\nport = 1\n[[list]]\nprot = 2\n",
        );
        let value = out.value.expect("the rest deserializes");
        let refused: Vec<String> = out.refused.iter().map(|r| r.path.to_string()).collect();
        assert_eq!(
            refused.len(),
            5,
            "name, inner.enable, inner.port, inner.enabel, list[1].prot: {refused:?}"
        );
        for expected in [
            "name",
            "inner.enable",
            "inner.port",
            "inner.enabel",
            "list[1].prot",
        ] {
            assert!(
                refused.contains(&expected.to_owned()),
                "{expected} in {refused:?}"
            );
        }
        assert_eq!(value.list.map(|l| l.len()), Some(2));
        assert!(value.name.is_none(), "the refused key is left out");
        assert!(value.legacy.is_none());
    }

    #[test]
    fn messages_name_types_not_values() {
        let out = run("name = 5\n[inner]\nenable = \"s3cr3t-value\"\n");
        let messages: Vec<String> = out
            .refused
            .iter()
            .map(|r| match &r.kind {
                DeErrorKind::Message(m) => m.clone(),
                DeErrorKind::UnknownField { field, .. } => field.clone(),
            })
            .collect();
        assert!(messages.contains(&"expected a boolean, found a string".to_owned()));
        assert!(messages.contains(&"expected a string, found an integer".to_owned()));
        assert!(messages.iter().all(|m| !m.contains("s3cr3t")));
    }

    #[test]
    fn unknown_keys_list_what_was_expected() {
        let out = run("[inner]\nenabel = true\n");
        let refused = &out.refused[0];
        assert_eq!(refused.line, Some(2));
        match &refused.kind {
            DeErrorKind::UnknownField { field, expected } => {
                assert_eq!(field, "enabel");
                assert!(expected.contains(&"enable"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unsupported_keys_are_noted_with_their_path() {
        let out = run("[legacy]\nanything = [1, 2]\n");
        assert!(out.refused.is_empty());
        assert_eq!(out.unsupported, vec![KeyPath::from_dotted("legacy")]);
        assert!(out.value.and_then(|v| v.legacy).is_some());
    }

    #[test]
    fn substituted_strings_stand_for_numbers_and_booleans() {
        let (mut tree, _) = parse("[inner]\nenable = \"true\"\nport = \"8080\"\n");
        for key in ["inner.enable", "inner.port"] {
            if let Some(node) = tree.get_mut(&KeyPath::from_dotted(key)) {
                node.substituted = true;
            }
        }
        let out: Deserialized<Outer> = deserialize_all(tree);
        assert!(out.refused.is_empty(), "{:?}", out.refused);
        let inner = out.value.and_then(|v| v.inner).expect("inner");
        assert_eq!(inner.enable, Some(true));
        assert_eq!(inner.port, Some(8080));
    }
}
