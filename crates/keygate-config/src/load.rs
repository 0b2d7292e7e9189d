//! The loading pipeline: parse (with lines), resolve placeholders, deserialize the
//! file-facing tables (refusing bad keys one by one), assemble the typed [`Config`], then
//! sort every problem into one list with lines attached.
//!
//! Unknown keys: inside a known table they are errors with a "did you mean". An unknown
//! *table* inside one of the namespaces WSO2 fills with tables keygate does not know (the
//! top level, `apim`, `apim.cache`, `database`, `keystore`, `oauth`) is a warning, unless
//! its name is within two edits of a known one, which makes it an error with the
//! suggestion: `[serverr]` is a typo, `[identity_mgt]` is WSO2's business.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::assemble::{Assembler, assemble};
use crate::config::Config;
use crate::de::{DeErrorKind, Refused, deserialize_all, quoted_list};
use crate::diagnostic::{Diagnostic, did_you_mean, near_miss};
use crate::document::{self, KeyPath, Node, Value};
use crate::file::{DeploymentFile, OPEN_TABLES};
use crate::placeholder::{EnvLookup, resolve};

/// What a file amounts to: the configuration when there is no error, and every problem.
pub(crate) struct Analysis {
    pub(crate) config: Option<Config>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

/// Runs the whole pipeline over `text`.
pub(crate) fn analyse(text: &str, origin: &Path, env: EnvLookup<'_>) -> Analysis {
    let (raw, mut diagnostics) = document::parse(text);
    let lines = LineMap::new(&raw);
    let resolution = resolve(&raw, env);
    let deserialized = deserialize_all::<DeploymentFile>(resolution.tree);

    // Paths whose contents keygate ignores: problems inside them do not matter.
    let mut ignored: Vec<KeyPath> = Vec::new();
    for path in &deserialized.unsupported {
        diagnostics.push(Diagnostic::warning(
            path.to_string(),
            "not supported by keygate, ignored",
        ));
        ignored.push(path.clone());
    }
    for refused in &deserialized.refused {
        let diagnostic = refusal(refused);
        if !diagnostic.is_error() {
            ignored.push(refused.path.clone());
        }
        diagnostics.push(diagnostic);
    }

    let config = deserialized.value.map(|file| {
        let config_dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut assembler = Assembler::new(config_dir, env);
        let config = assemble(file, origin.to_path_buf(), &mut assembler);
        diagnostics.append(&mut assembler.diagnostics);
        config
    });

    // A key whose placeholder failed was left out; what follows from its absence is
    // noise next to the placeholder's own error.
    let failed: Vec<String> = resolution
        .failures
        .iter()
        .map(|(path, _)| path.to_string())
        .collect();
    diagnostics.retain(|d| !failed.contains(&d.key_path));
    for (path, message) in resolution.failures {
        if !ignored.iter().any(|i| path.starts_with(i)) {
            diagnostics.push(Diagnostic::error(path.to_string(), message));
        }
    }

    for d in &mut diagnostics {
        if d.line.is_none() && !d.key_path.is_empty() {
            d.line = lines.line(&d.key_path);
        }
    }
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Analysis {
        config: if has_errors { None } else { config },
        diagnostics,
    }
}

/// The diagnostic for one refused key.
fn refusal(refused: &Refused) -> Diagnostic {
    let path = refused.path.to_string();
    let mut diagnostic = match &refused.kind {
        DeErrorKind::Message(message) => Diagnostic::error(path, message.clone()),
        DeErrorKind::UnknownField { field, expected } => {
            let parent = refused.path.parent().unwrap_or_default().to_string();
            let what = if refused.is_table { "table" } else { "key" };
            if refused.is_table && OPEN_TABLES.contains(&parent.as_str()) {
                match near_miss(field, expected.iter().copied()) {
                    Some(close) => {
                        Diagnostic::error(path, format!("unknown table, did you mean `{close}`?"))
                    }
                    None => {
                        Diagnostic::warning(path, "unknown table, not used by keygate, ignored")
                    }
                }
            } else if parent.is_empty() {
                Diagnostic::error(
                    path,
                    "a key outside any table: keys belong under a table such as `[server]`",
                )
            } else {
                match did_you_mean(field, expected.iter().copied()) {
                    Some(close) => {
                        Diagnostic::error(path, format!("unknown {what}, did you mean `{close}`?"))
                    }
                    None => Diagnostic::error(
                        path,
                        format!("unknown {what}, expected {}", quoted_list(expected)),
                    ),
                }
            }
        }
    };
    diagnostic.line = refused.line;
    diagnostic
}

/// Line of every key in the file, by its printed path.
struct LineMap(HashMap<String, usize>);

impl LineMap {
    fn new(root: &Node) -> Self {
        let mut map = HashMap::new();
        fn walk(node: &Node, path: &KeyPath, map: &mut HashMap<String, usize>) {
            if !path.is_root() {
                map.insert(path.to_string(), node.line);
            }
            match &node.value {
                Value::Table(entries) => {
                    for (key, child) in entries {
                        walk(child, &path.key(key), map);
                    }
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &path.index(i), map);
                    }
                }
                _ => {}
            }
        }
        walk(root, &KeyPath::root(), &mut map);
        Self(map)
    }

    /// The line of `path`, or of its nearest ancestor in the file.
    fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.0.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// The process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads a file, or says why not.
pub(crate) fn read(path: &Path) -> Result<String, Diagnostic> {
    std::fs::read_to_string(path)
        .map_err(|e| Diagnostic::error("", format!("cannot read the file: {e}")))
}

/// The origin as given, for reports.
pub(crate) fn origin(path: &Path) -> PathBuf {
    path.to_path_buf()
}
