//! Routing as WSO2's gateway does it: a request path selects an API by the longest
//! context prefix — the versioned context (`/pets/1.0.0`, or the context template with
//! `{version}` filled in) or, for the default version, the context alone — and the rest
//! of the path selects one of the API's resources by URL template and verb. A path no API
//! claims is a 404; a path inside an API that no resource of the verb matches is 900906.
//!
//! Templates are compiled once, when the replica takes an API: no regular expression
//! runs on the request path. Among templates that match, an exact path beats a template
//! with variables (`/orders/{id}`), which beats a wildcard (`/orders/*`, `/*`); among
//! templates with variables the one with more literal segments wins, then the one whose
//! literal segments come first; among wildcards the longer prefix wins; ties go to the
//! order the Publisher lists resources in. A trailing slash and empty segments are not
//! significant, and a template's query part (`/menu?category={c}`) is not matched.

use crate::proxy::BackendEndpoint;
use foldhash::fast::RandomState;
use keygate_model::{Api, UrlTemplate};
use std::collections::HashMap;
use std::sync::Arc;

/// The most segments a context may have; deeper contexts are refused when loaded.
pub const MAX_CONTEXT_SEGMENTS: usize = 32;

/// One segment of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Matches exactly this text.
    Literal(Box<str>),
    /// `{name}`: any one non-empty segment.
    Variable,
    /// `pre{name}suf`: a segment with that prefix and suffix and something between.
    Affixed { prefix: Box<str>, suffix: Box<str> },
}

impl Segment {
    fn parse(text: &str) -> Segment {
        match (text.find('{'), text.rfind('}')) {
            (Some(open), Some(close)) if open < close => {
                let prefix = text.get(..open).unwrap_or_default();
                let suffix = text.get(close + 1..).unwrap_or_default();
                if prefix.is_empty() && suffix.is_empty() {
                    Segment::Variable
                } else {
                    Segment::Affixed {
                        prefix: prefix.into(),
                        suffix: suffix.into(),
                    }
                }
            }
            _ => Segment::Literal(text.into()),
        }
    }

    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::Literal(text) => **text == *segment,
            Segment::Variable => !segment.is_empty(),
            Segment::Affixed { prefix, suffix } => {
                segment.len() > prefix.len() + suffix.len()
                    && segment.starts_with(&**prefix)
                    && segment.ends_with(&**suffix)
            }
        }
    }

    /// 0 for a literal, 1 for an affixed variable, 2 for a bare variable: lower is more
    /// specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 0,
            Segment::Affixed { .. } => 1,
            Segment::Variable => 2,
        }
    }
}

/// How a template matches: its precedence class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Only literal segments: looked up in a hash map.
    Exact,
    /// Variables, a fixed number of segments.
    Template,
    /// Ends in `*` (zero or more further segments) or `{+name}` (one or more).
    Wildcard,
}

/// A URL template compiled for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledTemplate {
    class: Class,
    segments: Box<[Segment]>,
    /// For wildcards: how many further segments the tail needs (0 for `*`, 1 for `{+x}`).
    tail_minimum: usize,
}

/// The segments of a path: split on `/`, empty segments left out.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The path part of a template: its query part (`?a={b}`) cut off.
fn template_path(pattern: &str) -> &str {
    pattern.split_once('?').map_or(pattern, |(path, _)| path)
}

/// A path with empty segments and a trailing slash taken out, for exact lookups. Borrows
/// when the path is already in that form.
fn normalized(path: &str) -> std::borrow::Cow<'_, str> {
    let clean =
        path.starts_with('/') && !path.contains("//") && (path.len() == 1 || !path.ends_with('/'));
    if clean {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 1);
    for segment in segments(path) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    std::borrow::Cow::Owned(out)
}

impl CompiledTemplate {
    /// Compiles a URL pattern such as `/orders/{id}`, `/orders/*` or `/*`.
    pub fn compile(pattern: &str) -> CompiledTemplate {
        let mut parts: Vec<&str> = segments(template_path(pattern)).collect();
        let mut class = Class::Template;
        let mut tail_minimum = 0;
        match parts.last() {
            Some(&"*") => {
                parts.pop();
                class = Class::Wildcard;
            }
            Some(last) if last.starts_with("{+") && last.ends_with('}') => {
                parts.pop();
                class = Class::Wildcard;
                tail_minimum = 1;
            }
            _ => {}
        }
        let segments: Box<[Segment]> = parts.into_iter().map(Segment::parse).collect();
        if class == Class::Template && segments.iter().all(|s| matches!(s, Segment::Literal(_))) {
            class = Class::Exact;
        }
        CompiledTemplate {
            class,
            segments,
            tail_minimum,
        }
    }

    /// The normalized literal path of an exact template.
    fn exact_path(&self) -> Option<String> {
        if self.class != Class::Exact {
            return None;
        }
        let mut path = String::new();
        for segment in &*self.segments {
            if let Segment::Literal(text) = segment {
                path.push('/');
                path.push_str(text);
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        Some(path)
    }

    /// Whether `path` (the part after the API's context) matches.
    pub fn matches(&self, path: &str) -> bool {
        let mut actual = segments(path);
        for expected in &*self.segments {
            match actual.next() {
                Some(segment) if expected.matches(segment) => {}
                _ => return false,
            }
        }
        match self.class {
            Class::Exact | Class::Template => actual.next().is_none(),
            Class::Wildcard => actual.count() >= self.tail_minimum,
        }
    }

    /// Sort key: lower sorts first and wins.
    fn precedence(&self) -> (Class, std::cmp::Reverse<usize>, usize, Vec<u8>) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let ranks = self.segments.iter().map(Segment::rank).collect();
        match self.class {
            // Longer wildcard prefixes first, then the more literal.
            Class::Wildcard => (
                self.class,
                std::cmp::Reverse(self.segments.len()),
                usize::MAX - literals,
                ranks,
            ),
            _ => (self.class, std::cmp::Reverse(literals), 0, ranks),
        }
    }
}

/// One resource of a deployed API.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The resource as the Publisher defines it.
    pub template: UrlTemplate,
    compiled: CompiledTemplate,
}

/// The resources of one verb, ready for matching.
#[derive(Debug, Clone, Default)]
struct VerbTable {
    verb: Box<str>,
    exact: HashMap<Box<str>, usize, RandomState>,
    /// Indices of templates and wildcards, best first.
    ordered: Box<[usize]>,
}

/// An API's resources, compiled.
#[derive(Debug, Clone, Default)]
pub struct ResourceTable {
    resources: Box<[Resource]>,
    verbs: Box<[VerbTable]>,
}

impl ResourceTable {
    /// Compiles the URL templates of an API.
    pub fn compile(templates: &[UrlTemplate]) -> ResourceTable {
        let resources: Box<[Resource]> = templates
            .iter()
            .map(|t| Resource {
                template: t.clone(),
                compiled: CompiledTemplate::compile(&t.url_pattern),
            })
            .collect();
        let mut verbs: Vec<VerbTable> = Vec::new();
        let mut pending: Vec<Vec<usize>> = Vec::new();
        for (index, resource) in resources.iter().enumerate() {
            let verb = resource.template.http_verb.to_ascii_uppercase();
            let slot = match verbs.iter().position(|v| *v.verb == *verb) {
                Some(slot) => slot,
                None => {
                    verbs.push(VerbTable {
                        verb: verb.into(),
                        ..VerbTable::default()
                    });
                    pending.push(Vec::new());
                    verbs.len() - 1
                }
            };
            let (Some(table), Some(ordered)) = (verbs.get_mut(slot), pending.get_mut(slot)) else {
                continue;
            };
            match resource.compiled.exact_path() {
                // The first resource listed for a path keeps it.
                Some(path) => {
                    table.exact.entry(path.into()).or_insert(index);
                }
                None => ordered.push(index),
            }
        }
        for (table, mut ordered) in verbs.iter_mut().zip(pending) {
            ordered.sort_by_cached_key(|&i| {
                let precedence = resources.get(i).map(|r| r.compiled.precedence());
                (precedence, i)
            });
            table.ordered = ordered.into();
        }
        ResourceTable {
            resources,
            verbs: verbs.into(),
        }
    }

    /// The resource for `verb` (upper case) and `path` (the part after the context).
    pub fn find(&self, verb: &str, path: &str) -> Option<&Resource> {
        let table = self.verbs.iter().find(|t| *t.verb == *verb)?;
        if let Some(&index) = table.exact.get(&*normalized(path)) {
            return self.resources.get(index);
        }
        table
            .ordered
            .iter()
            .filter_map(|&i| self.resources.get(i))
            .find(|r| r.compiled.matches(path))
    }

    /// The resources, in the Publisher's order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }
}

/// An API as the gateway serves it: the record, its contexts, compiled resources and
/// parsed endpoints.
#[derive(Debug, Clone)]
pub struct DeployedApi {
    /// The API.
    pub api: Api,
    /// The context with the version: `/pets/1.0.0`, as throttle keys and JWTs name it.
    pub versioned_context: Box<str>,
    /// The versioned context again, shared, to label each call's metrics without a copy.
    pub label: Arc<str>,
    /// The context without the version, when this is the default version.
    pub default_context: Option<Box<str>>,
    /// The resources.
    pub resources: ResourceTable,
    /// The production backend.
    pub production: Option<BackendEndpoint>,
    /// The sandbox backend.
    pub sandbox: Option<BackendEndpoint>,
}

/// Why an API could not be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// The context is empty or has more than [`MAX_CONTEXT_SEGMENTS`] segments.
    #[error("API {uuid}: context `{context}` is empty or too deep")]
    BadContext { uuid: String, context: String },
}

/// `/pets` from `pets/`, `/pets/`, `//pets`.
fn clean_context(context: &str) -> String {
    let mut out = String::with_capacity(context.len() + 1);
    for segment in segments(context) {
        out.push('/');
        out.push_str(segment);
    }
    out
}

impl DeployedApi {
    /// Compiles an API. Endpoints that are not `http`/`https` URLs are left out (calls
    /// with that key type are refused).
    pub fn compile(api: Api) -> Result<DeployedApi, DeployError> {
        let context = clean_context(&api.context);
        let depth = segments(&context).count();
        let bad = || DeployError::BadContext {
            uuid: api.uuid.clone(),
            context: api.context.clone(),
        };
        if context.is_empty() || depth + 1 > MAX_CONTEXT_SEGMENTS {
            return Err(bad());
        }
        let (versioned_context, default_context) = if context.contains("{version}") {
            let versioned = context.replace("{version}", &api.version);
            let unversioned = clean_context(&context.replace("{version}", ""));
            (versioned, unversioned)
        } else {
            (format!("{context}/{}", api.version), context)
        };
        if default_context.is_empty() && api.is_default_version {
            return Err(bad());
        }
        let resources = ResourceTable::compile(&api.url_templates);
        let production = api
            .production_endpoint
            .as_deref()
            .and_then(|url| BackendEndpoint::parse(url).ok());
        let sandbox = api
            .sandbox_endpoint
            .as_deref()
            .and_then(|url| BackendEndpoint::parse(url).ok());
        let versioned_context: Box<str> = clean_context(&versioned_context).into();
        Ok(DeployedApi {
            default_context: api.is_default_version.then(|| default_context.into()),
            label: Arc::from(&*versioned_context),
            versioned_context,
            resources,
            production,
            sandbox,
            api,
        })
    }
}

/// An API matched by context.
#[derive(Debug, Clone)]
pub struct ContextMatch {
    /// The API.
    pub api: Arc<DeployedApi>,
    /// Whether the request came in on the default-version context.
    pub via_default_version: bool,
    /// Byte length of the matched context prefix of the path.
    pub prefix_len: usize,
}

/// A request matched to an API resource.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// The API.
    pub api: Arc<DeployedApi>,
    /// Index of the resource in [`ResourceTable::resources`].
    pub resource_index: usize,
    /// Whether the request came in on the default-version context.
    pub via_default_version: bool,
    /// Byte length of the matched context prefix of the path: the rest goes to the
    /// backend.
    pub prefix_len: usize,
}

impl RouteMatch {
    /// The matched resource.
    pub fn resource(&self) -> Option<&Resource> {
        self.api.resources.resources().get(self.resource_index)
    }

    /// The path after the context, `/` when nothing follows it.
    pub fn remainder<'p>(&self, path: &'p str) -> &'p str {
        match path.get(self.prefix_len..) {
            Some("") | None => "/",
            Some(rest) => rest,
        }
    }
}

/// Why routing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// No API claims the path.
    NoApi,
    /// The API has no resource for the path and verb (900906).
    NoResource,
}

/// Finds the resource for `verb` and `path` given the API claiming a prefix.
pub fn match_resource(
    found: ContextMatch,
    verb: &str,
    path: &str,
) -> Result<RouteMatch, RouteError> {
    let rest = match path.get(found.prefix_len..) {
        Some("") | None => "/",
        Some(rest) => rest,
    };
    let resources = found.api.resources.resources();
    let resource = found
        .api
        .resources
        .find(verb, rest)
        .ok_or(RouteError::NoResource)?;
    let resource_index = resources
        .iter()
        .position(|r| std::ptr::eq(r, resource))
        .ok_or(RouteError::NoResource)?;
    Ok(RouteMatch {
        api: found.api,
        resource_index,
        via_default_version: found.via_default_version,
        prefix_len: found.prefix_len,
    })
}

/// The byte offsets where each of the first [`MAX_CONTEXT_SEGMENTS`] segments of `path`
/// ends, with their count: the candidate context prefixes, shortest first.
pub(crate) fn prefix_ends(path: &str) -> ([usize; MAX_CONTEXT_SEGMENTS], usize) {
    let mut ends = [0usize; MAX_CONTEXT_SEGMENTS];
    let mut count = 0;
    let bytes = path.as_bytes();
    let mut index = 0;
    while index < bytes.len() && count < MAX_CONTEXT_SEGMENTS {
        // Skip slashes, then a segment.
        while bytes.get(index) == Some(&b'/') {
            index += 1;
        }
        if index >= bytes.len() {
            break;
        }
        while index < bytes.len() && bytes.get(index) != Some(&b'/') {
            index += 1;
        }
        if let Some(slot) = ends.get_mut(count) {
            *slot = index;
        }
        count += 1;
    }
    (ends, count)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
