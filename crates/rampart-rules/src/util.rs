//! Small readers shared by checks.

use rampart_core::Field;
use rampart_manifest::{ContainerRef, PodSpecRef};
use serde_json::Value;

/// The effective value of a security setting: the container's, else the pod's.
pub(crate) fn effective<'a>(
    pod: &PodSpecRef<'a>,
    c: &ContainerRef<'a>,
    key: &str,
) -> Option<&'a Value> {
    c.security(key)
        .or_else(|| pod.spec.field("securityContext")?.field(key))
}

/// Every `securityContext` that sets `rel` (e.g. `seccompProfile/type`): the pod's, then each
/// container's, as (pointer of the field, who sets it: `the pod` or `container "app"`, value).
pub(crate) fn security_settings<'a>(
    cx: &crate::check::ObjectContext<'a>,
    rel: &str,
) -> Vec<(String, String, &'a Value)> {
    let mut out = Vec::new();
    let Some(pod) = &cx.pod else { return out };
    let walk = |v: Option<&'a Value>| rel.split('/').try_fold(v?, |cur, seg| cur.field(seg));
    if let Some(v) = walk(pod.spec.field("securityContext")) {
        out.push((
            format!("{}/securityContext/{rel}", pod.pointer),
            "the pod".to_string(),
            v,
        ));
    }
    for c in &cx.containers {
        if let Some(v) = walk(c.value.field("securityContext")) {
            out.push((c.ptr(&format!("securityContext/{rel}")), describe(c), v));
        }
    }
    out
}

/// `true` if the value is the boolean `true`.
pub(crate) fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

/// The string items of a list field.
pub(crate) fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Reads `resources.<section>.<resource>` of a container.
pub(crate) fn resource<'a>(c: &ContainerRef<'a>, section: &str, res: &str) -> Option<&'a Value> {
    c.value.field("resources")?.field(section)?.field(res)
}

/// `container "app"`, `init container "setup"`, …
pub(crate) fn describe(c: &ContainerRef<'_>) -> String {
    format!("{} \"{}\"", c.kind.noun(), c.name)
}

/// The image reference split into (registry-and-repository, tag, digest).
pub(crate) fn parse_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    // a tag is after the last ':' that follows the last '/'
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest.get(slash..).and_then(|tail| tail.rfind(':')) {
        Some(i) => {
            let at = slash + i;
            (rest.get(..at).unwrap_or(rest), rest.get(at + 1..), digest)
        }
        None => (rest, None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(parse_image("nginx"), ("nginx", None, None));
        assert_eq!(parse_image("nginx:1.25"), ("nginx", Some("1.25"), None));
        assert_eq!(
            parse_image("registry:5000/app"),
            ("registry:5000/app", None, None)
        );
        assert_eq!(
            parse_image("registry:5000/app:v1@sha256:abc"),
            ("registry:5000/app", Some("v1"), Some("sha256:abc"))
        );
        assert_eq!(
            parse_image("app@sha256:abc"),
            ("app", None, Some("sha256:abc"))
        );
    }
}

/// Which kind of resource setting a check requires.
#[derive(Clone, Copy)]
pub(crate) enum Setting {
    Limit,
    Request,
}

/// Reports every container of the object (init containers too; ephemeral containers take no
/// resources) that sets no `res` limit, or no `res` request. A limit counts as a request: the
/// API server copies a limit into a missing request.
pub(crate) fn require_resource(
    cx: &crate::check::ObjectContext<'_>,
    out: &mut crate::check::Emitter<'_>,
    res: &str,
    setting: Setting,
) {
    for c in &cx.containers {
        if c.kind == rampart_manifest::ContainerKind::Ephemeral {
            continue;
        }
        let limit = resource(c, "limits", res).is_some();
        let (set, what) = match setting {
            Setting::Limit => (limit, "limit"),
            Setting::Request => (limit || resource(c, "requests", res).is_some(), "request"),
        };
        if !set {
            out.emit(
                cx.obj,
                &c.ptr("resources"),
                format!("{} has no {res} {what}", describe(c)),
            );
        }
    }
}

/// Reports every regular container of a long-running workload that has no `field` probe
/// (`livenessProbe`, `readinessProbe`), named `what` in the message.
pub(crate) fn require_probe(
    cx: &crate::check::ObjectContext<'_>,
    out: &mut crate::check::Emitter<'_>,
    field: &str,
    what: &str,
) {
    if !cx.is_long_running() {
        return;
    }
    for c in &cx.containers {
        if c.kind == rampart_manifest::ContainerKind::Container && c.value.field(field).is_none() {
            out.emit(
                cx.obj,
                &c.pointer,
                format!("{} has no {what} probe", describe(c)),
            );
        }
    }
}
