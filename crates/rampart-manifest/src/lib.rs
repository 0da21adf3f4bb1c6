//! Loads Kubernetes manifests — YAML (multi-document, anchors, comments), JSON, `List` kinds —
//! into JSON values that keep the source position of every node.
//!
//! Plain YAML scalars are resolved as Kubernetes resolves them (go-yaml v2: `yes`/`on` are
//! booleans, `0644` is octal), so `privileged: yes` is privileged here as it is in the cluster.
//!
//! ```
//! let loaded = rampart_manifest::load_str("pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  hostNetwork: yes\n");
//! let pod = &loaded.objects[0];
//! assert_eq!(pod.value["spec"]["hostNetwork"], serde_json::json!(true));
//! assert_eq!(pod.location("/spec/hostNetwork").line, 6);
//! ```

pub mod builtin;
mod input;
mod pos;
pub mod selector;
mod slim;
mod validate;
pub mod workload;
mod yaml;

pub use input::{
    Duplicate, duplicates, duplicates_in, is_cluster_scoped, known_scope, render_chart,
    set_default_namespace, unrendered_template,
};
pub use pos::{PosNode, escape_segment};
pub use selector::{LabelSelector, SelectorError};
pub use slim::{Keep, Reads};
pub use workload::{
    ContainerKind, ContainerRef, PodSpecRef, containers, is_workload_group, pod_spec,
};
pub use yaml::resolve_plain;

use rampart_core::{Field, InputError, Location, ObjectRef};
use rayon::prelude::*;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Largest input file read, by default (a guard against accidental multi-gigabyte inputs).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// One Kubernetes object with where it came from.
///
/// Its identity (apiVersion, kind, namespace, name) is read from `value` once, the first time
/// it is asked for, and shared by every finding on the object: change `value`'s identity fields
/// before that, not after.
#[derive(Debug, Clone)]
pub struct Object {
    pub value: Value,
    pub pos: PosNode,
    /// The file it was read from (`<stdin>` for standard input).
    pub file: Arc<str>,
    /// 0-based index of the YAML document in the file.
    pub doc: u32,
    /// 0-based index inside a `List`'s `items`, when the object came from one.
    pub item: Option<u32>,
    /// The Helm template named by a `# Source:` comment before the document.
    pub template: Option<Arc<str>>,
    ident: OnceLock<Arc<ObjectRef>>,
}

impl Object {
    /// An object read from `file`.
    pub fn new(
        value: Value,
        pos: PosNode,
        file: Arc<str>,
        doc: u32,
        item: Option<u32>,
        template: Option<Arc<str>>,
    ) -> Object {
        Object {
            value,
            pos,
            file,
            doc,
            item,
            template,
            ident: OnceLock::new(),
        }
    }

    /// Wraps a value that did not come from a file (an admission request, a test); positions
    /// all point at line 0.
    pub fn from_value(value: Value, file: &str) -> Object {
        Object::new(value, PosNode::leaf(0, 0), Arc::from(file), 0, None, None)
    }

    fn ident(&self) -> &Arc<ObjectRef> {
        self.ident.get_or_init(|| {
            let str_at = |a: &str, b: &str| {
                self.value
                    .get(a)
                    .and_then(|v| v.get(b))
                    .and_then(Value::as_str)
            };
            let top = |a: &str| self.value.get(a).and_then(Value::as_str).unwrap_or("");
            Arc::new(ObjectRef {
                api_version: top("apiVersion").to_string(),
                kind: top("kind").to_string(),
                namespace: str_at("metadata", "namespace")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                name: str_at("metadata", "name")
                    .or_else(|| str_at("metadata", "generateName"))
                    .unwrap_or("")
                    .to_string(),
            })
        })
    }

    pub fn api_version(&self) -> &str {
        &self.ident().api_version
    }

    /// The API group: `apps` for `apps/v1`, `""` for `v1`.
    pub fn group(&self) -> &str {
        self.api_version()
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        &self.ident().kind
    }

    /// `metadata.name`, or `metadata.generateName` when there is no name.
    pub fn name(&self) -> &str {
        &self.ident().name
    }

    pub fn namespace(&self) -> Option<&str> {
        self.ident().namespace.as_deref()
    }

    pub fn labels(&self) -> Option<&serde_json::Map<String, Value>> {
        self.value.field("metadata")?.field("labels")?.as_object()
    }

    pub fn annotations(&self) -> Option<&serde_json::Map<String, Value>> {
        self.value
            .field("metadata")?
            .field("annotations")?
            .as_object()
    }

    /// The object's identity, shared with every finding on it.
    pub fn object_ref(&self) -> Arc<ObjectRef> {
        self.ident().clone()
    }

    /// The source location of the field at `pointer`, or of its nearest existing ancestor.
    pub fn location(&self, pointer: &str) -> Location {
        let ((line, column), _) = self.pos.find_nearest(&self.value, pointer);
        Location {
            file: self.file.clone(),
            line,
            column,
            pointer: pointer.to_string(),
            template: self.template.clone(),
        }
    }
}

/// The strings of a JSON list (`verbs`, `apiGroups`, `namespaces`): anything else in the list
/// is skipped, and a missing or non-list value gives an empty list.
pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Where objects are read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// A directory with a `Chart.yaml`: rendered with `helm template`, never read file by file.
    Chart(PathBuf),
}

impl Source {
    pub fn display_name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) | Source::Chart(p) => p.display().to_string(),
        }
    }
}

/// What loading one or more inputs produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Object>,
    /// Inputs or documents that could not be read; the rest were still loaded.
    pub errors: Vec<InputError>,
    /// Documents that are not Kubernetes objects (no `apiVersion`/`kind`), skipped with a note.
    pub skipped: Vec<InputError>,
}

impl Loaded {
    pub fn extend(&mut self, other: Loaded) {
        self.objects.extend(other.objects);
        self.errors.extend(other.errors);
        self.skipped.extend(other.skipped);
    }
}

fn is_manifest_path(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

/// Expands paths into sources: `-` is stdin, a directory is walked recursively (honouring
/// `.gitignore`, following symbolic links) for `.yaml`, `.yml` and `.json` files, a directory
/// with a `Chart.yaml` is one chart source, a file is taken as given. Sources come back sorted
/// and without repeats, so what the input means does not depend on the order of the paths.
pub fn discover<P: AsRef<Path>>(paths: &[P]) -> (Vec<Source>, Vec<InputError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let is_chart = |d: &Path| d.join("Chart.yaml").is_file();
    for p in paths {
        let p = p.as_ref();
        if p == Path::new("-") {
            sources.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() && is_chart(p) => sources.push(Source::Chart(p.to_path_buf())),
            Ok(m) if m.is_dir() => {
                let walker = ignore::WalkBuilder::new(p)
                    .hidden(true)
                    .parents(true)
                    .require_git(false)
                    .follow_links(true)
                    // a chart's files are rendered together, never read one by one
                    .filter_entry(move |e| {
                        e.depth() <= 1
                            || !e
                                .path()
                                .parent()
                                .is_some_and(|d| d.join("Chart.yaml").is_file())
                    })
                    .build();
                for entry in walker {
                    match entry {
                        Ok(e) => {
                            let Some(t) = e.file_type() else { continue };
                            if t.is_dir() && e.depth() > 0 && is_chart(e.path()) {
                                sources.push(Source::Chart(e.into_path()));
                            } else if t.is_file()
                                && is_manifest_path(e.path())
                                && !e.path().parent().is_some_and(|d| d != p && is_chart(d))
                            {
                                sources.push(Source::File(e.into_path()));
                            }
                        }
                        Err(e) => errors.push(InputError {
                            file: p.display().to_string(),
                            line: 0,
                            column: 0,
                            message: format!("cannot walk directory: {e}"),
                        }),
                    }
                }
            }
            Ok(_) => sources.push(Source::File(p.to_path_buf())),
            Err(e) => errors.push(InputError {
                file: p.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    sources.sort();
    sources.dedup();
    (sources, errors)
}

/// Reads a source's text, with a size limit; non-UTF-8 input is an error naming the position.
pub fn read_source(source: &Source, max_size: u64) -> Result<(String, String), InputError> {
    let name = source.display_name();
    let err = |line: u32, column: u32, message: String| InputError {
        file: name.clone(),
        line,
        column,
        message,
    };
    let mut bytes = Vec::new();
    let res = match source {
        Source::Stdin => std::io::stdin()
            .lock()
            .take(max_size.saturating_add(1))
            .read_to_end(&mut bytes),
        Source::File(p) => std::fs::File::open(p)
            .and_then(|f| f.take(max_size.saturating_add(1)).read_to_end(&mut bytes)),
        Source::Chart(p) => return render_chart(p).map(|text| (name, text)),
    };
    if let Err(e) = res {
        return Err(err(0, 0, format!("cannot read: {e}")));
    }
    if bytes.len() as u64 > max_size {
        return Err(err(
            0,
            0,
            format!(
                "input is larger than the {} MiB limit; split it or raise --max-file-size",
                max_size / (1024 * 1024)
            ),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = e.as_bytes().get(..valid).unwrap_or(&[]);
            let line = prefix.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let col = prefix.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
            return Err(err(line, col, "not UTF-8 text (binary file?)".into()));
        }
    };
    if let Some(i) = text.find('\0') {
        let prefix = text.get(..i).unwrap_or("");
        let line = prefix.matches('\n').count() as u32 + 1;
        let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        return Err(err(line, col, "contains a NUL byte (binary file?)".into()));
    }
    if *source == Source::Stdin && text.trim().is_empty() {
        return Err(err(0, 0, "no objects read from stdin".into()));
    }
    Ok((name, text))
}

/// Loads every source in parallel; order of objects follows the order of sources.
pub fn load_sources(sources: &[Source], max_size: u64) -> Loaded {
    let parts: Vec<Loaded> = sources
        .par_iter()
        .map(|s| match read_source(s, max_size) {
            Ok((name, text)) => load_str(&name, &text),
            Err(e) => Loaded {
                errors: vec![e],
                ..Default::default()
            },
        })
        .collect();
    let mut out = Loaded::default();
    for p in parts {
        out.extend(p);
    }
    out
}

/// Discovers and loads paths (files, directories, `-`).
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Loaded {
    let (sources, errors) = discover(paths);
    let mut out = load_sources(&sources, DEFAULT_MAX_FILE_SIZE);
    out.errors.splice(0..0, errors);
    out
}

/// `# Source: chart/templates/x.yaml` comment lines, as (line, template).
fn helm_sources(text: &str) -> Vec<(u32, Arc<str>)> {
    if !text.contains("# Source: ") {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            l.trim_start()
                .strip_prefix("# Source: ")
                .map(|t| (i as u32 + 1, Arc::from(t.trim())))
        })
        .collect()
}

/// One YAML or JSON document that need not be a Kubernetes object (rules files, suites, configs).
#[derive(Debug, Clone)]
pub struct YamlDoc {
    pub value: Value,
    pub pos: PosNode,
}

impl YamlDoc {
    /// The position of `pointer`, or of its nearest existing ancestor; the flag says whether
    /// the full path exists.
    pub fn find_nearest(&self, pointer: &str) -> ((u32, u32), bool) {
        self.pos.find_nearest(&self.value, pointer)
    }
}

/// Parses every document of a YAML or JSON text with Kubernetes' scalar rules. Syntax errors
/// come back as `file:line:col` errors; documents around them are still returned. Empty
/// documents are dropped.
pub fn parse_yaml(name: &str, text: &str) -> (Vec<YamlDoc>, Vec<InputError>) {
    let (docs, errs) = yaml::parse_documents(text);
    let docs = docs
        .into_iter()
        .filter(|d| !d.value.is_null())
        .map(|d| YamlDoc {
            value: d.value,
            pos: d.pos,
        })
        .collect();
    let errs = errs
        .into_iter()
        .map(|e| InputError {
            file: name.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        })
        .collect();
    (docs, errs)
}

/// Loads the objects of one file's text.
pub fn load_str(name: &str, text: &str) -> Loaded {
    let file: Arc<str> = Arc::from(name);
    let (docs, yaml_errors) = yaml::parse_documents(text);
    // template actions in a file that is not valid YAML: a chart's source, not a manifest
    // (valid YAML with `{{ … }}` in its strings, such as an ApplicationSet, is read as it is)
    if !yaml_errors.is_empty()
        && let Some(e) = unrendered_template(name, text)
    {
        return Loaded {
            errors: vec![e],
            ..Loaded::default()
        };
    }
    let mut out = Loaded::default();
    for e in yaml_errors {
        out.errors.push(InputError {
            file: name.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        });
    }
    let sources = helm_sources(text);
    for (i, d) in docs.into_iter().enumerate() {
        let template = sources
            .iter()
            .rev()
            .find(|(l, _)| *l < d.start_line && *l >= d.boundary_line)
            .map(|(_, t)| t.clone());
        let err = |line: u32, column: u32, message: String| InputError {
            file: name.to_string(),
            line,
            column,
            message,
        };
        match d.value {
            Value::Null => continue,
            Value::Object(_) => {}
            _ => {
                out.errors.push(err(
                    d.pos.line,
                    d.pos.col,
                    "expected a Kubernetes object (a mapping), found a scalar or list".into(),
                ));
                continue;
            }
        }
        let obj = Object::new(d.value, d.pos, file.clone(), i as u32, None, template);
        push_object(obj, &mut out);
    }
    out
}

fn push_object(mut obj: Object, out: &mut Loaded) {
    let has_kind = obj
        .value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty());
    let has_api = obj
        .value
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|k| !k.is_empty());
    if !has_kind || !has_api {
        let missing = if !has_kind { "kind" } else { "apiVersion" };
        out.skipped.push(InputError {
            file: obj.file.to_string(),
            line: obj.pos.line,
            column: obj.pos.col,
            message: format!("not a Kubernetes object (no `{missing}`), skipped"),
        });
        return;
    }
    if obj.kind().ends_with("List") && obj.value.get("items").is_some_and(Value::is_array) {
        let at = obj
            .value
            .as_object()
            .and_then(|m| m.keys().position(|k| k == "items"));
        let Some(Value::Array(items)) = obj.value.get_mut("items").map(Value::take) else {
            return;
        };
        let mut items_pos = at
            .and_then(|i| obj.pos.take_entry(i))
            .unwrap_or_else(|| PosNode::leaf(obj.pos.line, obj.pos.col));
        // a typed list (`PodList`, as `kubectl get pods -o yaml` writes) names its items' kind
        let item_kind = obj
            .kind()
            .strip_suffix("List")
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        let list_api = obj.api_version().to_string();
        for (idx, mut item) in items.into_iter().enumerate() {
            let pos = items_pos
                .take_item(idx)
                .unwrap_or_else(|| PosNode::leaf(obj.pos.line, obj.pos.col));
            if let (Some(kind), Some(m)) = (&item_kind, item.as_object_mut()) {
                if !m.contains_key("kind") {
                    m.insert("kind".into(), Value::String(kind.clone()));
                }
                if !m.contains_key("apiVersion") {
                    m.insert("apiVersion".into(), Value::String(list_api.clone()));
                }
            }
            if !item.is_object() {
                out.errors.push(InputError {
                    file: obj.file.to_string(),
                    line: pos.line,
                    column: pos.col,
                    message: format!("items[{idx}] of a {} must be an object", obj.kind()),
                });
                continue;
            }
            let child = Object::new(
                item,
                pos,
                obj.file.clone(),
                obj.doc,
                Some(idx as u32),
                obj.template.clone(),
            );
            push_object(child, out);
        }
        return;
    }
    if let Err(e) = validate::validate(&obj) {
        out.errors.push(e);
        return;
    }
    out.objects.push(obj);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_items_become_objects_with_positions() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": []}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}
]}"#;
        let l = load_str("list.json", text);
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        assert_eq!(l.objects.len(), 2);
        assert_eq!(l.objects[1].name(), "b");
        assert_eq!(l.objects[1].item, Some(1));
        assert_eq!(l.objects[1].location("/metadata/name").line, 3);
    }

    #[test]
    fn typed_list_items_inherit_kind_and_api_version() {
        let text = "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a, namespace: x}\n  spec: {containers: []}\n";
        let l = load_str("pods.yaml", text);
        assert!(
            l.errors.is_empty() && l.skipped.is_empty(),
            "{:?} {:?}",
            l.errors,
            l.skipped
        );
        assert_eq!(
            (
                l.objects[0].kind(),
                l.objects[0].api_version(),
                l.objects[0].name()
            ),
            ("Pod", "v1", "a")
        );
    }

    #[test]
    fn helm_source_comments_name_templates() {
        let text = "---\n# Source: app/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# Source: app/templates/b.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n";
        let l = load_str("out.yaml", text);
        let t: Vec<_> = l.objects.iter().map(|o| o.template.as_deref()).collect();
        assert_eq!(
            t,
            vec![
                Some("app/templates/a.yaml"),
                Some("app/templates/b.yaml"),
                None
            ]
        );
    }

    #[test]
    fn non_objects_are_skipped_with_a_note() {
        let l = load_str("values.yaml", "replicaCount: 3\n");
        assert!(l.objects.is_empty());
        assert_eq!(l.skipped.len(), 1);
        assert!(l.errors.is_empty());
    }

    #[test]
    fn wrong_type_is_an_error_with_position_and_neighbours_survive() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: \"x\"\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec:\n  containers: []\n";
        let l = load_str("p.yaml", text);
        assert_eq!(l.objects.len(), 1);
        assert_eq!(l.objects[0].name(), "good");
        assert_eq!(l.errors.len(), 1);
        assert_eq!((l.errors[0].line, l.errors[0].column), (5, 3));
        assert!(
            l.errors[0].message.contains("spec.containers"),
            "{}",
            l.errors[0].message
        );
    }

    #[test]
    fn yaml_11_booleans_for_privileged() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: On\n";
        let l = load_str("p.yaml", text);
        assert_eq!(
            l.objects[0].value["spec"]["containers"][0]["securityContext"]["privileged"],
            json!(true)
        );
    }
}
