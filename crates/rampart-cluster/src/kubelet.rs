//! Each node's kubelet configuration, as the API server's node proxy gives it
//! (`GET /api/v1/nodes/<name>/proxy/configz`, answering `{"kubeletconfig": {…}}`: the running
//! `KubeletConfiguration`, its command-line flags and defaults merged in), judged by the CIS
//! kubelet items of `rampart node` ([`rampart_cis::kubelet_config_instance`]) and reported on
//! the Node.
//!
//! A dump holds the same responses as `nodes/<name>/configz.json` files (what
//! `kubectl get --raw /api/v1/nodes/<name>/proxy/configz` prints) anywhere under the paths given
//! to `--from`. Nodes whose configuration could not be read — the credentials lack `get` on
//! `nodes/proxy`, the kubelet does not answer, the dump does not hold it — are named in the
//! report's notes, never left out silently.

use rampart_core::{Finding, InputError};
use rampart_manifest::Object;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One node's running kubelet configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeletConfigz {
    pub node: String,
    /// The `kubeletconfig` object of the response.
    pub config: Value,
}

/// The RBAC rule reading configz needs, in Role syntax.
pub const CONFIGZ_RBAC: &str =
    "{apiGroups: [\"\"], resources: [\"nodes/proxy\"], verbs: [\"get\"]}";

/// The configuration in a configz response, `None` when it has no `kubeletconfig` object.
pub fn parse(node: &str, response: Value) -> Option<KubeletConfigz> {
    match response {
        Value::Object(mut m) => match m.remove("kubeletconfig") {
            Some(config @ Value::Object(_)) => Some(KubeletConfigz {
                node: node.to_string(),
                config,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The node a dump file holds the configz response of: `…/nodes/<name>/configz.json`.
pub fn node_of_dump_file(path: &Path) -> Option<String> {
    if path.file_name()? != "configz.json" {
        return None;
    }
    let dir = path.parent()?;
    if dir.parent()?.file_name()? != "nodes" {
        return None;
    }
    Some(dir.file_name()?.to_str()?.to_string())
}

/// The pseudo-file a node's configuration is located in, the same live and from a dump.
pub fn file_of(node: &str) -> String {
    format!("cluster://Node/{node}/proxy/configz")
}

/// Notes naming the nodes whose configuration could not be read, one per reason:
/// `failures` holds (node, reason).
pub fn notes(mut failures: Vec<(String, String)>) -> Vec<String> {
    failures.sort();
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (node, reason) in failures {
        by_reason.entry(reason).or_default().push(node);
    }
    by_reason
        .into_iter()
        .map(|(reason, nodes)| {
            const SHOWN: usize = 10;
            let mut names = nodes
                .iter()
                .take(SHOWN)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            if nodes.len() > SHOWN {
                names.push_str(&format!(" and {} more", nodes.len() - SHOWN));
            }
            format!(
                "kubelet configuration not checked for {} node{} ({names}): {reason}",
                nodes.len(),
                if nodes.len() == 1 { "" } else { "s" },
            )
        })
        .collect()
}

/// The CIS kubelet items on each node's configuration, reported on its Node object (configs of
/// nodes not among `objects` are left out: `-n` keeps Nodes, so that is only a config for a node
/// that is gone).
pub fn check(
    objects: &[Object],
    configs: &[KubeletConfigz],
    opts: &rampart_cis::Options,
) -> (Vec<Finding>, Vec<InputError>) {
    if configs.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let nodes: HashMap<&str, &Object> = objects
        .iter()
        .filter(|o| o.kind() == "Node" && o.api_version() == "v1")
        .map(|o| (o.name(), o))
        .collect();
    let instances: Vec<rampart_cis::Instance> = configs
        .iter()
        .filter_map(|c| {
            let node = nodes.get(c.node.as_str())?;
            let mut doc = serde_json::Map::new();
            doc.insert(
                "apiVersion".into(),
                Value::String("kubelet.config.k8s.io/v1beta1".into()),
            );
            doc.insert("kind".into(), Value::String("KubeletConfiguration".into()));
            if let Value::Object(m) = &c.config {
                for (k, v) in m {
                    if k != "apiVersion" && k != "kind" {
                        doc.insert(k.clone(), v.clone());
                    }
                }
            }
            let config = Object::from_value(Value::Object(doc), &file_of(&c.node));
            Some(rampart_cis::kubelet_config_instance(
                &config,
                format!("the kubelet of node {}", c.node),
                node.object_ref(),
            ))
        })
        .collect();
    let (outcomes, errors) = rampart_cis::evaluate(&instances, &[], opts, false);
    (rampart_cis::findings(&outcomes), errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    #[test]
    fn dump_file_names() {
        assert_eq!(
            node_of_dump_file(Path::new("dump/nodes/node-1/configz.json")).as_deref(),
            Some("node-1")
        );
        assert_eq!(
            node_of_dump_file(Path::new("dump/node-1/configz.json")),
            None
        );
        assert_eq!(node_of_dump_file(Path::new("nodes/node-1/x.json")), None);
    }

    #[test]
    fn notes_group_nodes_by_reason() {
        let n = notes(vec![
            ("b".into(), "403 Forbidden".into()),
            ("a".into(), "403 Forbidden".into()),
            ("c".into(), "503 down".into()),
        ]);
        assert_eq!(
            n,
            [
                "kubelet configuration not checked for 2 nodes (a, b): 403 Forbidden",
                "kubelet configuration not checked for 1 node (c): 503 down"
            ]
        );
    }

    #[test]
    fn an_insecure_kubelet_is_reported_on_its_node() {
        let node = Object::from_value(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
            "cluster://Node/n1",
        );
        let bad = parse(
            "n1",
            json!({"kubeletconfig": {"authentication": {"anonymous": {"enabled": true},
                "webhook": {"enabled": false}}, "authorization": {"mode": "AlwaysAllow"},
                "readOnlyPort": 10255}}),
        )
        .unwrap();
        let (findings, errors) = check(std::slice::from_ref(&node), &[bad], &Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        let slugs: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
        assert!(
            slugs.contains(&"kubelet-authorization-always-allow"),
            "{slugs:?}"
        );
        assert!(slugs.contains(&"kubelet-anonymous-auth"), "{slugs:?}");
        for f in &findings {
            assert_eq!(f.object.as_ref().unwrap().kind, "Node");
            assert_eq!(f.object.as_ref().unwrap().name, "n1");
        }
        // a hardened kubelet: none of those
        let good = parse(
            "n1",
            json!({"kubeletconfig": {"authentication": {"anonymous": {"enabled": false},
                "webhook": {"enabled": true}, "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"}},
                "authorization": {"mode": "Webhook"}, "readOnlyPort": 0}}),
        )
        .unwrap();
        let (findings, _) = check(&[node], &[good], &Default::default());
        let slugs: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
        assert!(
            !slugs.contains(&"kubelet-authorization-always-allow"),
            "{slugs:?}"
        );
        assert!(!slugs.contains(&"kubelet-anonymous-auth"), "{slugs:?}");
        assert!(parse("n1", json!({"other": {}})).is_none());
    }
}
