//! What every command does with its inputs before parsing them: unrendered templates, Helm
//! charts, namespaces given on the command line, and objects defined twice.

use crate::Object;
use rampart_core::{InputError, Location};
use serde_json::Value;
use std::path::Path;

/// Go template actions as Helm charts write them: `{{ .Values.x }}`, `{{- if … }}`,
/// `{{ include … }}`. Kyverno's `{{ request.object… }}` and Argo's `{{inputs.…}}` variables are
/// not Go templates and do not match.
fn go_action_at(text: &str) -> Option<usize> {
    const WORDS: &[&str] = &[
        "if ",
        "else",
        "end",
        "range ",
        "with ",
        "define ",
        "template ",
        "include ",
        "toYaml ",
        "tpl ",
        "printf ",
        "required ",
        "default ",
        "quote ",
        "/*",
        "$",
    ];
    let mut from = 0;
    while let Some(i) = text.get(from..).and_then(|t| t.find("{{")) {
        let at = from + i;
        let rest = text.get(at + 2..).unwrap_or("");
        let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
        if rest.starts_with('.') || WORDS.iter().any(|w| rest.starts_with(w)) {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// An error for a file that holds Go template actions (a chart's `templates/` file given
/// directly), at the first action, to report instead of the YAML errors its syntax causes.
pub fn unrendered_template(name: &str, text: &str) -> Option<InputError> {
    let at = go_action_at(text)?;
    let before = text.get(..at).unwrap_or("");
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    Some(InputError {
        file: name.to_string(),
        line,
        column,
        message: "unrendered Go template (a Helm chart's source?): render it first, e.g. \
                  `helm template CHART | rampart scan -`"
            .to_string(),
    })
}

/// Renders a chart directory with `helm template` when `helm` is on PATH; otherwise one error
/// that names the chart and how to render it.
pub fn render_chart(dir: &Path) -> Result<String, InputError> {
    let name = dir.display().to_string();
    let err = |message: String| InputError {
        file: name.clone(),
        line: 0,
        column: 0,
        message,
    };
    match std::process::Command::new("helm")
        .arg("template")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout)
            .map_err(|_| err("`helm template` printed text that is not UTF-8".into())),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(err(format!(
                "`helm template` failed: {}",
                stderr
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no message")
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err(
            "is a Helm chart and `helm` is not on PATH: render it with \
             `helm template CHART | rampart scan -`"
                .to_string(),
        )),
        Err(e) => Err(err(format!("cannot run `helm template`: {e}"))),
    }
}

/// Whether objects of this kind live outside namespaces: the built-in cluster-scoped kinds and
/// the common extensions' (Kyverno, Gatekeeper, cert-manager, Gateway API). See
/// [`known_scope`] for whether the answer is known.
pub fn is_cluster_scoped(kind: &str, api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    crate::builtin::is_cluster_scoped(group, kind)
        || matches!(
            (group, kind),
            ("templates.gatekeeper.sh", "ConstraintTemplate")
                | ("cert-manager.io", "ClusterIssuer")
                | ("gateway.networking.k8s.io", "GatewayClass")
                | (
                    "policies.kyverno.io",
                    "ValidatingPolicy"
                        | "MutatingPolicy"
                        | "GeneratingPolicy"
                        | "ImageValidatingPolicy"
                        | "DeletingPolicy"
                )
        )
        || (group == "kyverno.io" && kind.starts_with("Cluster"))
        || group == "constraints.gatekeeper.sh"
}

/// Whether [`is_cluster_scoped`] knows this kind's scope: a built-in group's kind, or Kyverno's
/// and Gatekeeper's own; another custom kind's scope is only the cluster's discovery's.
pub fn known_scope(api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    crate::builtin::is_builtin_group(group)
        || matches!(
            group,
            "kyverno.io" | "policies.kyverno.io" | "templates.gatekeeper.sh"
        )
}

/// Gives namespaced objects that name no namespace this one, as `kubectl apply -n` does.
pub fn set_default_namespace(objects: &mut [Object], namespace: &str) {
    for o in objects.iter_mut() {
        let kind = o.value.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = o
            .value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if is_cluster_scoped(kind, api) || kind == "List" {
            continue;
        }
        let Some(meta) = o.value.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let named = meta
            .get("namespace")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !named {
            // a key added after parsing has no position of its own: it resolves to metadata's
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
            // the identity may have been read already (the loader reads it to check the kind)
            o.ident = std::sync::OnceLock::new();
        }
    }
}

/// An object (kind, namespace, name) defined more than once in the input: every definition
/// after the first, with the first's location.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub object: std::sync::Arc<rampart_core::ObjectRef>,
    pub first: Location,
    pub again: Location,
}

/// Objects defined twice, whatever the order of the inputs: the first definition is the one
/// with the smallest (file, line).
pub fn duplicates<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Vec<Duplicate> {
    let (refs, positions): (Vec<_>, Vec<_>) = objects
        .into_iter()
        .map(|o| ((o.object_ref(), o.file.clone()), (o.pos.line, o.pos.col)))
        .unzip();
    duplicates_in(&refs, &positions)
}

/// [`duplicates`] over each object's identity and file, and its (line, column) at the same
/// index. Only objects whose key is taken twice are sorted and copied, so a large input with no
/// repeats costs one hash lookup per object and no allocation per object.
pub fn duplicates_in(
    refs: &[(std::sync::Arc<rampart_core::ObjectRef>, std::sync::Arc<str>)],
    positions: &[(u32, u32)],
) -> Vec<Duplicate> {
    type Key<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);
    let mut first: std::collections::HashMap<Key<'_>, usize> =
        std::collections::HashMap::with_capacity(refs.len());
    let mut repeats: std::collections::HashMap<usize, Vec<usize>> =
        std::collections::HashMap::new();
    for (i, (r, _)) in refs.iter().enumerate() {
        if r.name.is_empty() || r.kind.is_empty() {
            continue;
        }
        let group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            group,
            r.kind.as_str(),
            r.namespace.as_deref(),
            r.name.as_str(),
        );
        match first.get(&key) {
            Some(&f) => repeats.entry(f).or_default().push(i),
            None => {
                first.insert(key, i);
            }
        }
    }
    let at = |i: usize| -> Option<(Location, std::sync::Arc<rampart_core::ObjectRef>)> {
        let (r, file) = refs.get(i)?;
        let (line, column) = positions.get(i).copied().unwrap_or((0, 0));
        Some((
            Location {
                file: file.clone(),
                line,
                column,
                pointer: String::new(),
                template: None,
            },
            r.clone(),
        ))
    };
    let mut out = Vec::new();
    for (f, more) in repeats {
        // the first definition is the one with the smallest (file, line, column)
        let mut defs: Vec<(Location, std::sync::Arc<rampart_core::ObjectRef>)> =
            std::iter::once(f).chain(more).filter_map(at).collect();
        defs.sort_by(|a, b| {
            (&*a.0.file, a.0.line, a.0.column).cmp(&(&*b.0.file, b.0.line, b.0.column))
        });
        let mut it = defs.into_iter();
        let Some((first_loc, _)) = it.next() else {
            continue;
        };
        for (again, object) in it {
            out.push(Duplicate {
                object,
                first: first_loc.clone(),
                again,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn go_templates_are_told_from_policy_variables() {
        let e = unrendered_template(
            "t.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"x\" . }}\n",
        )
        .unwrap();
        assert_eq!((e.line, e.column), (4, 9));
        assert!(unrendered_template("t.yaml", "a: {{- if .Values.x }}\n").is_some());
        assert!(unrendered_template("t.yaml", "{{- end }}\n").is_some());
        for not in [
            "message: \"{{ request.object.metadata.name }} is bad\"\n",
            "value: \"{{element.name}}\"\n",
            "args: [\"{{inputs.parameters.x}}\"]\n",
            "a: b\n",
        ] {
            assert!(unrendered_template("k.yaml", not).is_none(), "{not}");
        }
    }

    #[test]
    fn default_namespace_only_for_namespaced_objects_without_one() {
        let mut l = crate::load_str(
            "a.yaml",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: x}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: c}\n",
        );
        set_default_namespace(&mut l.objects, "prod");
        let ns: Vec<Option<&str>> = l.objects.iter().map(|o| o.namespace()).collect();
        assert_eq!(ns, [Some("prod"), Some("x"), None]);
    }

    #[test]
    fn duplicates_do_not_depend_on_the_order() {
        let a = crate::load_str(
            "a.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: f, namespace: s}\n",
        );
        let b = crate::load_str(
            "b.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: f, namespace: s}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: g, namespace: s}\n",
        );
        for order in [[&a, &b], [&b, &a]] {
            let d = duplicates(order.iter().flat_map(|l| l.objects.iter()));
            assert_eq!(d.len(), 1);
            assert_eq!(&*d[0].first.file, "a.yaml");
            assert_eq!(&*d[0].again.file, "b.yaml");
        }
    }
}
