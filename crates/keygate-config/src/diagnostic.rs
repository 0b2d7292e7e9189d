//! Problems found in a `deployment.toml`: each one a [`Diagnostic`] with its severity, the
//! dotted path of the key it concerns and the line it sits on; a [`Report`] gathers every
//! problem of one file so that a user sees them all at once.
//!
//! Messages never carry a secret's value: they name keys, types and expected forms, and
//! echo a value only for keys whose values are plain words (a database `type`, a role).

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file cannot be used as written.
    Error,
    /// The file can be used; something in it has no effect.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Dotted key path, `database.apim_db.type`; elements of arrays of tables carry their
    /// index, `apim.throttling.url_group[1].type`. Empty for the file as a whole.
    pub key_path: String,
    /// 1-based line of the key in the file, when it is in the file.
    pub line: Option<usize>,
    /// 1-based column, given for TOML syntax errors.
    pub column: Option<usize>,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl Diagnostic {
    /// An error at `key_path`.
    pub fn error(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, key_path, message)
    }

    /// A warning at `key_path`.
    pub fn warning(key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, key_path, message)
    }

    fn new(severity: Severity, key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            key_path: key_path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// This diagnostic as `severity: file:line: key.path: message`, the form `keygate config
    /// check` prints.
    pub fn in_file<'a>(&'a self, origin: &'a Path) -> impl fmt::Display + 'a {
        Located {
            diagnostic: self,
            origin: Some(origin),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Located {
            diagnostic: self,
            origin: None,
        }
        .fmt(f)
    }
}

struct Located<'a> {
    diagnostic: &'a Diagnostic,
    origin: Option<&'a Path>,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        write!(f, "{}: ", d.severity)?;
        match (self.origin, d.line) {
            (Some(origin), Some(line)) => {
                write!(f, "{}:{line}", origin.display())?;
                if let Some(column) = d.column {
                    write!(f, ":{column}")?;
                }
                f.write_str(": ")?;
            }
            (Some(origin), None) => write!(f, "{}: ", origin.display())?,
            (None, Some(line)) => {
                write!(f, "line {line}")?;
                if let Some(column) = d.column {
                    write!(f, ", column {column}")?;
                }
                f.write_str(": ")?;
            }
            (None, None) => {}
        }
        if !d.key_path.is_empty() {
            write!(f, "{}: ", d.key_path)?;
        }
        f.write_str(&d.message)
    }
}

/// Every problem found in one file, errors and warnings, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The file the problems were found in, as given by the caller.
    pub origin: PathBuf,
    /// The problems, ordered by line.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// A report on `origin` holding `diagnostics`, sorted by line.
    pub fn new(origin: impl Into<PathBuf>, mut diagnostics: Vec<Diagnostic>) -> Self {
        diagnostics.sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
        Self {
            origin: origin.into(),
            diagnostics,
        }
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors alone.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings alone.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            d.in_file(&self.origin).fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// The closest of `candidates` to `word`, when one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let c_lower = c.to_ascii_lowercase();
            let distance = strsim::damerau_levenshtein(&word_lower, &c_lower);
            let similarity = strsim::jaro_winkler(&word_lower, &c_lower);
            (c, distance, similarity)
        })
        .filter(|(c, distance, similarity)| *distance <= 2.max(c.len() / 4) || *similarity >= 0.88)
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .map(|(c, _, _)| c)
}

/// The closest of `candidates` to `word` within two edits: strict enough that a real WSO2
/// table we do not list is not mistaken for a typo of one we do.
pub(crate) fn near_miss<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.len() > 3 && word.len() > 3)
        .map(|c| {
            let c_lower = c.to_ascii_lowercase();
            let distance = strsim::damerau_levenshtein(&word_lower, &c_lower);
            let similarity = strsim::jaro_winkler(&word_lower, &c_lower);
            (c, distance, similarity)
        })
        .filter(|(c, distance, similarity)| {
            *distance <= 2 || (*similarity >= 0.9 && c.len().abs_diff(word.len()) <= 3)
        })
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_display_names_file_line_and_key() {
        let mut d = Diagnostic::error("database.apim_db.typ", "unknown key, did you mean `type`?");
        d.line = Some(12);
        let report = Report::new("deployment.toml", vec![d]);
        assert_eq!(
            report.to_string(),
            "error: deployment.toml:12: database.apim_db.typ: unknown key, did you mean `type`?"
        );
        assert!(report.has_errors());
    }

    #[test]
    fn report_sorts_by_line_and_counts_severities() {
        let mut late = Diagnostic::warning("a", "late");
        late.line = Some(30);
        let mut early = Diagnostic::error("b", "early");
        early.line = Some(3);
        early.column = Some(7);
        let report = Report::new("x.toml", vec![late, early]);
        assert_eq!(report.diagnostics[0].message, "early");
        assert_eq!(report.errors().count(), 1);
        assert_eq!(report.warnings().count(), 1);
        assert!(
            report
                .to_string()
                .starts_with("error: x.toml:3:7: b: early\n")
        );
    }

    #[test]
    fn warnings_only_is_not_an_error() {
        let report = Report::new("x.toml", vec![Diagnostic::warning("apim.cors", "ignored")]);
        assert!(!report.has_errors());
        assert_eq!(report.to_string(), "warning: x.toml: apim.cors: ignored");
    }

    #[test]
    fn suggestions_catch_typos_and_refuse_strangers() {
        let keys = ["type", "url", "username", "password", "driver"];
        assert_eq!(did_you_mean("typ", keys), Some("type"));
        assert_eq!(did_you_mean("pasword", keys), Some("password"));
        assert_eq!(did_you_mean("user_name", keys), Some("username"));
        assert_eq!(did_you_mean("validationQuery", keys), None);
        let tables = ["server", "database", "tenant_context"];
        assert_eq!(near_miss("serverr", tables), Some("server"));
        assert_eq!(near_miss("tenant_mgt", tables), None);
        assert_eq!(
            near_miss("throttle", ["throttling", "cache"]),
            Some("throttling")
        );
        assert_eq!(near_miss("identity_mgt", ["identity"]), None);
    }
}
