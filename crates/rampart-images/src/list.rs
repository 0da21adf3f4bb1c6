//! Every image reference in a set of manifests, with where it is used.

use crate::reference::{Reference, ReferenceError};
use rampart_core::{InputError, Location, ObjectRef};
use rampart_manifest::Object;
use rampart_manifest::workload::{ContainerKind, containers, pod_spec};
use serde::Serialize;
use std::sync::Arc;

/// One container's image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUse {
    /// The image as written in the manifest.
    pub image: String,
    /// The normalised reference, or why it does not parse.
    #[serde(serialize_with = "ser_parsed")]
    pub reference: Result<Reference, ReferenceError>,
    /// Where the `image` field is (the position of its key, as the loader locates mapping entries).
    pub location: Location,
    pub object: Arc<ObjectRef>,
    pub container: String,
    /// `container`, `init container` or `ephemeral container`.
    pub container_kind: &'static str,
}

fn ser_parsed<S: serde::Serializer>(
    r: &Result<Reference, ReferenceError>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        Ok(r) => r.serialize(s),
        Err(e) => s.serialize_str(&e.to_string()),
    }
}

impl ImageUse {
    /// Whether the reference has a digest.
    pub fn is_pinned(&self) -> bool {
        self.reference.as_ref().is_ok_and(Reference::is_pinned)
    }

    /// An error at the image's position when it does not parse.
    pub fn error(&self) -> Option<InputError> {
        let e = self.reference.as_ref().err()?;
        Some(InputError {
            file: self.location.file.to_string(),
            line: self.location.line,
            column: self.location.column,
            message: e.to_string(),
        })
    }
}

/// The images of the containers, init containers and ephemeral containers of every Pod,
/// workload template, CronJob and PodTemplate, in input order. A container without a string
/// `image` is not listed.
pub fn image_uses(objects: &[Object]) -> Vec<ImageUse> {
    let mut out = Vec::new();
    for obj in objects {
        let Some(pod) = pod_spec(&obj.value) else {
            continue;
        };
        for c in containers(&pod) {
            let Some(image) = c.value.get("image").and_then(|v| v.as_str()) else {
                continue;
            };
            out.push(ImageUse {
                image: image.to_string(),
                reference: Reference::parse(image),
                location: obj.location(&c.ptr("image")),
                object: obj.object_ref(),
                container: c.name.to_string(),
                container_kind: match c.kind {
                    ContainerKind::Container => "container",
                    ContainerKind::Init => "init container",
                    ContainerKind::Ephemeral => "ephemeral container",
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn lists_every_kind_of_container() {
        let text = "\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ops}
spec:
  schedule: '@daily'
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: init
              image: busybox
          containers:
            - name: job
              image: ghcr.io/acme/job:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: a, image: \"Bad/Name\"}]
  ephemeralContainers:
    - {name: dbg, image: 'localhost:5000/debug:v1'}
";
        let loaded = rampart_manifest::load_str("m.yaml", text);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let uses = image_uses(&loaded.objects);
        let got: Vec<_> = uses
            .iter()
            .map(|u| {
                format!(
                    "{}:{}:{} {} {} {} {}",
                    u.location.file,
                    u.location.line,
                    u.location.column,
                    u.object.name,
                    u.container,
                    u.container_kind,
                    u.reference.as_ref().map_or_else(
                        |e| e.to_string(),
                        |r| format!("{r} pinned={}", r.is_pinned())
                    )
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "m.yaml:12:15 nightly init init container docker.io/library/busybox:latest pinned=false",
                "m.yaml:15:15 nightly job container ghcr.io/acme/job:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef pinned=true",
                "m.yaml:21:26 p a container repository name must be lowercase: \"Bad/Name\"",
                "m.yaml:23:19 p dbg ephemeral container localhost:5000/debug:v1 pinned=false",
            ]
        );
        assert!(uses[2].error().is_some());
    }
}
