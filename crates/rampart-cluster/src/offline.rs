//! Reading a cluster from a dump: `kubectl get … -A -o yaml` (or `-o json`) output, a `List`
//! with `items`, or a directory of manifests. The objects are normalized as live ones are
//! ([`crate::normalize`]), so a dump of a cluster gives the report the live scan gives.

use rampart_core::InputError;
use rampart_manifest::Object;

/// What a dump held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Normalized, in the order of [`crate::settle`].
    pub objects: Vec<Object>,
    /// Files or documents that could not be read.
    pub errors: Vec<InputError>,
}

/// Loads the files and directories in `paths`; `namespace` keeps only that namespace's objects
/// and cluster-scoped ones, as `-n` does live.
pub fn load<P: AsRef<std::path::Path>>(paths: &[P], namespace: Option<&str>) -> Loaded {
    let loaded = rampart_manifest::load_paths(paths);
    let mut objects: Vec<Object> = loaded
        .objects
        .into_iter()
        .filter_map(|o| crate::normalize(o.value))
        .collect();
    crate::settle(&mut objects, namespace);
    Loaded {
        objects,
        errors: loaded.errors,
    }
}
