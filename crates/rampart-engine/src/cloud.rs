//! The cloud layer as the Kubernetes API shows it: which cloud the Nodes run on (their
//! `spec.providerID`), which workloads the NetworkPolicies let reach that cloud's instance
//! metadata service, and which ServiceAccounts assume a cloud identity.
//!
//! ```
//! let objects = rampart_manifest::load_str("c.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {providerID: 'aws:///us-east-1a/i-0abc'}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n").objects;
//! let f = rampart_engine::cloud::cloud_findings(&objects);
//! assert_eq!(f[0].check, "cloud-metadata-reachable");
//! ```

use rampart_core::{CheckInfo, Finding, Origin, Severity};
use rampart_manifest::Object;
use rampart_netpol::{Peer, Protocol};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// Workloads that can reach the cloud's instance metadata service.
pub const METADATA_REACHABLE: &str = "cloud-metadata-reachable";
/// A ServiceAccount that assumes a cloud identity.
pub const WORKLOAD_IDENTITY: &str = "cloud-workload-identity";

/// The link-local address of the instance metadata service on AWS, Google Cloud, Azure,
/// DigitalOcean and OpenStack.
pub const METADATA_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

/// `spec.providerID` prefixes and the cloud each names.
const PROVIDERS: [(&str, &str); 6] = [
    ("aws://", "AWS"),
    ("gce://", "Google Cloud"),
    ("azure://", "Azure"),
    ("digitalocean://", "DigitalOcean"),
    ("openstack://", "OpenStack"),
    ("oci://", "Oracle Cloud"),
];

/// ServiceAccount annotations that bind a cloud identity: (annotation, cloud, mechanism).
const IDENTITY_ANNOTATIONS: [(&str, &str, &str); 3] = [
    (
        "eks.amazonaws.com/role-arn",
        "AWS",
        "IAM Roles for Service Accounts",
    ),
    (
        "iam.gke.io/gcp-service-account",
        "Google Cloud",
        "Workload Identity",
    ),
    (
        "azure.workload.identity/client-id",
        "Azure",
        "Workload Identity",
    ),
];

/// Every slug [`cloud_findings`] can report.
pub fn checks() -> Vec<CheckInfo> {
    vec![
        CheckInfo::new(
            METADATA_REACHABLE,
            Severity::Medium,
            Origin::Cloud,
            "Workloads can reach the cloud instance metadata service",
        )
        .doc(
            "## What it does\nOn clusters whose Nodes run on a cloud (`spec.providerID` names AWS, Google \
             Cloud, Azure, DigitalOcean, OpenStack or Oracle Cloud), finds the workloads whose egress \
             NetworkPolicies let them connect to the instance metadata service (`169.254.169.254`, TCP \
             80), one finding per namespace listing them. Workloads no egress policy selects reach it.\n\n\
             ## Why is this bad?\nThe metadata service hands out the node's cloud credentials. A foothold in \
             any pod that reaches it acts with the node's IAM role (ATT&CK T1552.005, Cloud Instance \
             Metadata API), often far beyond the cluster. IMDSv2 with a hop limit of 1 (AWS) or the GKE \
             metadata server blunt this, but neither is visible through the Kubernetes API.\n\n\
             ## Remediation\nAdd an egress NetworkPolicy in each namespace that allows what the workloads \
             need and excepts `169.254.169.254/32` (an `ipBlock` with `except`), and on AWS require IMDSv2 \
             with a hop limit of 1; give workloads their own cloud identity (IRSA, Workload Identity) \
             instead of the node's.\n\n## References\n- <https://attack.mitre.org/techniques/T1552/005/>\n\
             - <https://kubernetes.io/docs/concepts/services-networking/network-policies/>\n",
        )
        .references(["https://attack.mitre.org/techniques/T1552/005/"]),
        CheckInfo::new(
            WORKLOAD_IDENTITY,
            Severity::Info,
            Origin::Cloud,
            "A ServiceAccount assumes a cloud identity",
        )
        .doc(
            "## What it does\nLists ServiceAccounts annotated with a cloud identity: \
             `eks.amazonaws.com/role-arn` (AWS IAM Roles for Service Accounts), \
             `iam.gke.io/gcp-service-account` (GKE Workload Identity), \
             `azure.workload.identity/client-id` (Azure Workload Identity).\n\n\
             ## Why is this bad?\nIt is the right way to give a workload cloud access, and it also makes \
             the ServiceAccount's token a cloud credential: whoever can read that token, create pods that \
             run as the ServiceAccount or create tokens for it acts with the cloud role. Reported for the \
             inventory, so the attack paths to that ServiceAccount are read with it in mind.\n\n\
             ## Remediation\nScope the cloud role to what the workload needs, and make sure no one else can \
             run pods as, or mint tokens for, the ServiceAccount (`rampart rbac paths`).\n\n\
             ## References\n- <https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html>\n\
             - <https://cloud.google.com/kubernetes-engine/docs/concepts/workload-identity>\n",
        )
        .references([
            "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
        ]),
    ]
}

/// The cloud the Nodes run on, from the first Node whose `spec.providerID` names one.
pub fn provider(objects: &[Object]) -> Option<&'static str> {
    objects
        .iter()
        .filter(|o| o.kind() == "Node" && o.api_version() == "v1")
        .filter_map(|o| o.value.pointer("/spec/providerID").and_then(Value::as_str))
        .find_map(|id| {
            PROVIDERS
                .iter()
                .find(|(prefix, _)| id.starts_with(prefix))
                .map(|(_, cloud)| *cloud)
        })
}

/// The cloud layer's findings: metadata-service reachability (only when the Nodes run on a
/// cloud) and ServiceAccounts that assume a cloud identity.
pub fn cloud_findings(objects: &[Object]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in objects
        .iter()
        .filter(|o| o.kind() == "ServiceAccount" && o.api_version() == "v1")
    {
        let Some(ann) = o.annotations() else { continue };
        for (key, cloud, mechanism) in IDENTITY_ANNOTATIONS {
            if let Some(identity) = ann.get(key).and_then(Value::as_str) {
                let pointer = format!(
                    "/metadata/annotations/{}",
                    rampart_manifest::escape_segment(key)
                );
                out.push(
                    Finding::new(
                        WORKLOAD_IDENTITY,
                        Severity::Info,
                        format!(
                            "ServiceAccount {}/{} assumes the {cloud} identity {identity} ({mechanism}): its token is a cloud credential",
                            o.namespace().unwrap_or("default"),
                            o.name()
                        ),
                    )
                    .with_object(o.object_ref())
                    .with_location(o.location(&pointer)),
                );
            }
        }
    }
    let Some(cloud) = provider(objects) else {
        return out;
    };
    let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for peer in rampart_netpol::workloads_reaching(objects, METADATA_IP, Protocol::Tcp, 80) {
        if let Peer::Workload {
            namespace,
            name,
            kind,
        } = peer
        {
            by_namespace
                .entry(namespace)
                .or_default()
                .push(format!("{kind} {name}"));
        }
    }
    for (namespace, workloads) in by_namespace {
        // the finding sits on the namespace's first such workload, where its egress is decided
        let Some(first) = objects.iter().find(|o| {
            o.namespace() == Some(namespace.as_str())
                && workloads
                    .first()
                    .is_some_and(|w| *w == format!("{} {}", o.kind(), o.name()))
        }) else {
            continue;
        };
        let shown: Vec<&str> = workloads.iter().take(5).map(String::as_str).collect();
        let more = workloads.len().saturating_sub(shown.len());
        let list = if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        };
        out.push(
            Finding::new(
                METADATA_REACHABLE,
                Severity::Medium,
                format!(
                    "{} workload(s) in namespace {namespace} can reach the {cloud} instance metadata service {METADATA_IP}:80 (no egress NetworkPolicy excepts it): {list}",
                    workloads.len()
                ),
            )
            .with_object(first.object_ref())
            .with_location(first.location("")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {providerID: 'gce://proj/europe-west1-b/n1'}\n";

    fn deployment(ns: &str, name: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n"
        )
    }

    fn run(docs: &[&str]) -> Vec<Finding> {
        let text = docs.join("---\n");
        let loaded = rampart_manifest::load_str("c.yaml", &text);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        cloud_findings(&loaded.objects)
    }

    #[test]
    fn metadata_reachability_follows_egress_policies() {
        let open = deployment("shop", "web");
        let closed = deployment("bank", "api");
        let deny_metadata = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress, namespace: bank}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]\n";
        let f = run(&[NODE, &open, &closed, deny_metadata]);
        let meta: Vec<&Finding> = f.iter().filter(|f| f.check == METADATA_REACHABLE).collect();
        assert_eq!(meta.len(), 1, "{f:#?}");
        assert!(
            meta[0].message.contains("namespace shop")
                && meta[0].message.contains("Google Cloud")
                && meta[0].message.contains("Deployment web"),
            "{}",
            meta[0].message
        );
        // an egress policy that allows only DNS keeps it out too
        let dns_only = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: dns, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{protocol: UDP, port: 53}]\n";
        assert!(
            run(&[NODE, &open, dns_only])
                .iter()
                .all(|f| f.check != METADATA_REACHABLE)
        );
        // not on a cloud: nothing to reach
        assert!(run(&[&open]).is_empty());
    }

    #[test]
    fn cloud_identities_of_service_accounts() {
        let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: uploader\n  namespace: shop\n  annotations:\n    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/s3-upload\n";
        let f = run(&[sa]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, WORKLOAD_IDENTITY);
        assert!(
            f[0].message
                .contains("arn:aws:iam::123456789012:role/s3-upload")
        );
        assert_eq!(f[0].location.as_ref().unwrap().line, 7);
    }
}
