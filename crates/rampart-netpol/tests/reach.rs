//! `reachability`: open classes, explicit pairs, and traffic from outside and from the ingress
//! controller agree with the connection list.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

const YAML: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: c, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: c, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: batch, labels: {app: job}}
spec: {containers: [{name: c, image: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: job-egress, namespace: batch}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}, podSelector: {matchLabels: {app: web}}}]}]
"#;

#[test]
fn reachability_matches_the_connection_list() {
    let loaded = rampart_manifest::load_str("r.yaml", YAML);
    let r = rampart_netpol::reachability(&loaded.objects);
    assert!(r.errors.is_empty());
    let idx = |name: &str| {
        r.workloads
            .iter()
            .position(
                |(p, _)| matches!(p, rampart_netpol::Peer::Workload { name: n, .. } if n == name),
            )
            .unwrap()
    };
    let class = |name: &str| r.class_of[idx(name)];
    let reaches = |a: &str, b: &str| {
        let (ca, cb) = (class(a), class(b));
        (r.open_out[ca] && r.open_in[cb]) || r.pairs.contains(&(ca, cb))
    };
    assert!(r.open_in[class("web")] && r.open_out[class("web")]);
    assert!(!r.open_in[class("db")]);
    assert!(!r.open_out[class("job")]);
    assert!(reaches("web", "db"));
    assert!(reaches("job", "web"));
    assert!(!reaches("job", "db"));
    assert!(!reaches("db", "job") || r.open_in[class("job")]);
    assert!(r.from_outside[class("web")] && !r.from_outside[class("db")]);
    assert!(r.from_ingress_controller[class("web")] && !r.from_ingress_controller[class("db")]);
    // the same answers as the connection list
    let analysis = rampart_netpol::analyze(&loaded.objects).unwrap();
    let listed = |a: &str, b: &str| {
        analysis
            .connections
            .iter()
            .any(|c| c.to_string().starts_with(&format!("{a} => {b}")))
    };
    for (a, pa) in [
        ("web", "shop/web[Pod]"),
        ("db", "shop/db[Pod]"),
        ("job", "batch/job[Pod]"),
    ] {
        for (b, pb) in [
            ("web", "shop/web[Pod]"),
            ("db", "shop/db[Pod]"),
            ("job", "batch/job[Pod]"),
        ] {
            if a != b {
                assert_eq!(reaches(a, b), listed(pa, pb), "{a} -> {b}");
            }
        }
    }
}
