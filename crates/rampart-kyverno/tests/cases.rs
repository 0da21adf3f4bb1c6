//! Runs the project's own `kyverno test` folders under `tests/cases/` (anchors, operators,
//! deny conditions and variables, autogen, foreach, mutate, CEL) and checks every result.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rampart_kyverno::testrun::{discover, run_file};
use rampart_kyverno::{AdmissionInfo, KyvernoError, PolicySet, Status};
use std::path::Path;

#[test]
fn every_case_agrees_with_its_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let files = discover(&dir);
    assert!(files.len() >= 6, "found {files:?}");
    let mut total = 0;
    for f in files {
        let rows = run_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!rows.is_empty(), "{}: no rows", f.display());
        // Rows must come from evaluation: at least one row of each file has a result.
        assert!(rows.iter().any(|r| r.actual.is_some()), "{}", f.display());
        for r in &rows {
            total += 1;
            assert!(
                r.agrees(),
                "{}: {}/{} {}/{}: expected {}, got {:?} ({})",
                f.display(),
                r.policy,
                r.rule,
                r.kind,
                r.resource,
                r.expected,
                r.actual,
                r.message
            );
        }
    }
    assert!(total >= 50, "only {total} rows");
}

/// A policy whose admission processing is off runs in background scans (and `scan`), never
/// at admission.
#[test]
fn background_only_policies_are_not_run_at_admission() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: background-only}
spec:
  admission: false
  background: true
  validationFailureAction: Enforce
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: cel-background-only}
spec:
  evaluation: {admission: {enabled: false}}
  validationActions: [Deny]
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations: [{expression: "false", message: "never at admission"}]
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "x"}});
    let info = AdmissionInfo {
        operation: "CREATE".into(),
        ..AdmissionInfo::default()
    };
    assert!(set.evaluate_admission(&pod, &info).is_empty());
    assert_eq!(set.evaluate(&pod, &info).len(), 2);
    assert_eq!(set.evaluate_background(&pod, &info).len(), 2);
}

/// The requester's roles and cluster roles come from the cluster's bindings that name the
/// user, one of its groups or its service account; `match`/`exclude` select by them.
#[test]
fn requester_roles_come_from_the_bindings() {
    struct Bindings;
    impl rampart_kyverno::resolver::ContextResolver for Bindings {
        fn call(
            &self,
            _method: &str,
            path: &str,
            _body: Option<&serde_json::Value>,
        ) -> Result<serde_json::Value, String> {
            let b = |name: &str, kind: &str, role: &str, subject: serde_json::Value| {
                serde_json::json!({"metadata": {"name": name},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
                    "subjects": [subject]})
            };
            Ok(match path {
                "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings" => {
                    serde_json::json!({"items": [
                        b("a", "Role", "deployer", serde_json::json!({"kind": "Group", "name": "devs"})),
                        b("b", "ClusterRole", "view", serde_json::json!({"kind": "ServiceAccount", "name": "ci", "namespace": "shop"})),
                        b("c", "Role", "other", serde_json::json!({"kind": "User", "name": "eve"})),
                    ]})
                }
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" => {
                    serde_json::json!({"items": [
                        b("d", "ClusterRole", "cluster-admin", serde_json::json!({"kind": "User", "name": "root"})),
                    ]})
                }
                other => return Err(format!("unexpected {other}")),
            })
        }
    }
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  background: false
  validationFailureAction: Enforce
  rules:
  - name: only-deployers
    match: {any: [{resources: {kinds: [ConfigMap]}, roles: ["shop:deployer"]}]}
    exclude: {any: [{clusterRoles: [cluster-admin]}]}
    validate: {deny: {}}
"#;
    let (mut set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(set.uses_requester_roles() && set.needs_cluster());
    set.resolver = Some(rampart_kyverno::resolver::Resolver::new(Bindings));
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}});
    let verdict = |user: serde_json::Value| {
        let mut info = AdmissionInfo {
            operation: "CREATE".into(),
            user_info: user,
            ..AdmissionInfo::default()
        };
        set.resolve_requester_roles(&mut info, "shop").unwrap();
        let statuses: Vec<Status> = set.evaluate(&cm, &info).iter().map(|r| r.status).collect();
        (info.roles, info.cluster_roles, statuses)
    };
    // a developer: the role through its group, so the rule applies (and denies)
    let (roles, _, statuses) = verdict(serde_json::json!({"username": "ann", "groups": ["devs"]}));
    assert_eq!(roles, vec!["shop:deployer".to_string()]);
    assert_eq!(statuses, vec![Status::Fail]);
    // a service account: a cluster role through a RoleBinding, not the role
    let (roles, cluster_roles, statuses) =
        verdict(serde_json::json!({"username": "system:serviceaccount:shop:ci"}));
    assert!(roles.is_empty() && cluster_roles == vec!["view".to_string()]);
    assert!(statuses.is_empty());
    // a cluster admin in the group is excluded
    let (_, cluster_roles, statuses) =
        verdict(serde_json::json!({"username": "root", "groups": ["devs"]}));
    assert_eq!(cluster_roles, vec!["cluster-admin".to_string()]);
    assert!(statuses.is_empty(), "{statuses:?}");
}

/// Kyverno's checks of a policy's spec: processing modes, webhook timeouts, wildcard kinds,
/// subresources in background mode, subject kinds; a CEL exception names a policy.
#[test]
fn invalid_policy_specs_are_named() {
    let policy = |spec: &str, rule: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n{spec}  rules:\n  - name: r\n{rule}"
        )
    };
    let deny = "    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {deny: {}}\n";
    let cases = [
        (
            policy("  admission: false\n  background: false\n", deny),
            "disabling both",
        ),
        (
            policy(
                "  admission: false\n",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    mutate: {patchStrategicMerge: {metadata: {labels: {a: b}}}}\n",
            ),
            "only allowed with validation policies",
        ),
        (
            policy("  webhookTimeoutSeconds: 45\n", deny),
            "between 1 and 30",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [\"*\"]}}]}\n    validate: {deny: {}}\n",
            ),
            "wildcard policy not allowed in background mode",
        ),
        (
            policy(
                "  background: false\n",
                "    match: {any: [{resources: {kinds: [\"*\"]}}]}\n    validate: {pattern: {spec: {x: y}}}\n",
            ),
            "only deal with the metadata",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod/exec]}}]}\n    validate: {deny: {}}\n",
            ),
            "background scan enabled with subresource Pod/exec",
        ),
        (
            policy(
                "  background: false\n",
                "    match: {any: [{resources: {kinds: [Pod]}, subjects: [{kind: Robot, name: r2}]}]}\n    validate: {deny: {}}\n",
            ),
            "kind must be 'User', 'Group', or 'ServiceAccount'",
        ),
        // every matched resources block names its kinds
        (
            policy(
                "  background: false\n",
                "    match: {any: [{resources: {selector: {matchLabels: {a: b}}}}]}\n    validate: {pattern: {spec: {x: y}}}\n",
            ),
            "only deal with the metadata",
        ),
        (
            policy(
                "  background: false\n",
                "    match: {resources: {names: [web]}}\n    validate: {pattern: {metadata: {labels: {a: \"?*\"}}}}\n",
            ),
            "the kind attribute is mandatory",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod], name: a, names: [b]}}]}\n    validate: {deny: {}}\n",
            ),
            "Both name and names",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod], selector: {}}}]}\n    validate: {deny: {}}\n",
            ),
            "requirements are not specified in selector",
        ),
        // conditions: complete, with known operators, and real operations for request.operation
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {deny: {conditions: {any: [{key: a, operator: Equals}]}}}\n",
            ),
            "`key`, `value` or `operator` is missing",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    preconditions: {all: [{key: a, operator: equals, value: a}]}\n    validate: {deny: {}}\n",
            ),
            "entered value of `operator` is invalid",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {deny: {conditions: {any: [{key: \"{{ request.operation }}\", operator: AnyIn, value: [CREATE, DESTROY]}]}}}\n",
            ),
            "unknown value 'DESTROY'",
        ),
        // context entries: named, not after Kyverno's own variables, of one kind, complete
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    context: [{name: request, variable: {value: 1}}]\n    validate: {deny: {}}\n",
            ),
            "conflicts with a pre-defined variable request",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    context: [{name: both, variable: {value: 1}, configMap: {name: c, namespace: n}}]\n    validate: {deny: {}}\n",
            ),
            "exactly one of configMap or apiCall or imageRegistry or variable",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    context: [{name: cm, configMap: {name: c}}]\n    validate: {deny: {}}\n",
            ),
            "a namespace is required for configMap context entry",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    context: [{name: v, variable: {default: 1}}]\n    validate: {deny: {}}\n",
            ),
            "a variable must define a value or a jmesPath expression",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    context: [{name: v, variable: {jmesPath: \"items[\"}}]\n    validate: {deny: {}}\n",
            ),
            "failed to parse JMESPath items[",
        ),
        (
            policy("", deny).replace(
                "metadata: {name: p}",
                "metadata: {name: p, namespace: shop}",
            ),
            "A clusterpolicy should not have the namespace defined",
        ),
        // no variables where Kyverno forbids them; JSON patches it can apply; one match form
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod], names: [\"{{ request.object.metadata.name }}\"]}}]}\n    validate: {deny: {}}\n",
            ),
            "should not have variables in match section",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    mutate:\n      patchesJson6902: |-\n        - {op: add, path: spec/x, value: 1}\n",
            ),
            "path must begin with a forward slash",
        ),
        (
            policy(
                "",
                "    match: {any: [{resources: {kinds: [Pod]}}]}\n    mutate:\n      patchesJson6902: |-\n        - {op: merge, path: /spec/x, value: 1}\n",
            ),
            "unexpected kind",
        ),
        (
            policy(
                "",
                "    match:\n      resources: {kinds: [Pod]}\n      any: [{resources: {kinds: [Pod]}}]\n    validate: {deny: {}}\n",
            ),
            "can't specify any/all together with match resources",
        ),
        // failure-action overrides may not both enforce and audit a namespace
        (
            policy(
                "  validationFailureActionOverrides:\n  - {action: Enforce, namespaces: [shop, dev]}\n  - {action: Audit, namespaces: [dev]}\n",
                deny,
            ),
            "conflicting namespaces found in path: spec.validationFailureActionOverrides[1].namespaces: dev",
        ),
        (
            policy(
                "  validationFailureActionOverrides:\n  - {action: Audit, namespaces: [\"dev-*\"]}\n  - {action: Enforce, namespaces: [dev-1]}\n",
                deny,
            ),
            "wildcard pattern 'dev-*' matches with namespace 'dev-1'",
        ),
        // a namespaced Policy reaches neither other namespaces nor cluster-wide kinds
        (
            policy("", deny)
                .replace(
                    "kind: ClusterPolicy\nmetadata: {name: p}",
                    "kind: Policy\nmetadata: {name: p, namespace: tenant-a}",
                )
                .replace("kinds: [Pod]}", "kinds: [Pod], namespaces: [tenant-b]}"),
            "Filtering namespaces not allowed in namespaced policies",
        ),
        (
            policy("", deny)
                .replace(
                    "kind: ClusterPolicy\nmetadata: {name: p}",
                    "kind: Policy\nmetadata: {name: p, namespace: tenant-a}",
                )
                .replace("kinds: [Pod]}", "kinds: [Pod, ClusterRole]}"),
            "Cluster wide resource 'ClusterRole' not allowed in namespaced policy",
        ),
    ];
    for (text, want) in &cases {
        let (set, errors) = PolicySet::from_str("p.yaml", text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.len() == 1 && shown[0].starts_with("p.yaml:") && shown[0].contains(want),
            "{want}: {shown:?}"
        );
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}});
        let results = set.evaluate(&pod, &AdmissionInfo::default());
        assert!(
            results.iter().all(|r| r.status == Status::Error),
            "{results:?}"
        );
    }
    // the same rules, well formed, load
    for ok in [
        policy(
            "  background: false\n",
            "    match: {any: [{resources: {kinds: [Pod/exec]}}]}\n    validate: {deny: {}}\n",
        ),
        policy(
            "  background: false\n",
            "    match: {any: [{resources: {kinds: [\"*\"]}}]}\n    validate: {pattern: {metadata: {labels: {a: \"?*\"}}}}\n",
        ),
        policy("  admission: false\n", deny),
    ] {
        let (_, errors) = PolicySet::from_str("p.yaml", &ok);
        assert!(errors.is_empty(), "{ok}: {errors:?}");
    }
    // generate rules: one pattern, a target namespace by scope, a namespaced Policy's own
    // namespace, a cloneList of one scope
    let generate = |kind: &str, ns: &str, body: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: {kind}\nmetadata:\n  name: g\n{ns}spec:\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Namespace]}}}}]}}\n    generate:\n{body}"
        )
    };
    let broken = [
        (
            generate(
                "ClusterPolicy",
                "",
                "      {apiVersion: v1, kind: ConfigMap, name: c, data: {}}\n",
            ),
            "target namespace must be set for a namespaced resource",
        ),
        (
            generate(
                "ClusterPolicy",
                "",
                "      {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: c, namespace: x, data: {}}\n",
            ),
            "must not be set for a cluster-wide resource",
        ),
        (
            generate(
                "ClusterPolicy",
                "",
                "      {apiVersion: v1, kind: ConfigMap, name: c, namespace: x, data: {}, clone: {name: a, namespace: b}}\n",
            ),
            "only one of generate patterns",
        ),
        (
            generate(
                "Policy",
                "  namespace: team\n",
                "      {apiVersion: v1, kind: ConfigMap, name: c, namespace: other, data: {}}\n",
            ),
            "cannot generate resources in other namespaces",
        ),
        (
            generate(
                "ClusterPolicy",
                "",
                "      {cloneList: {kinds: [v1/Secret, rbac.authorization.k8s.io/v1/ClusterRole], namespace: x, selector: {matchLabels: {a: b}}}}\n",
            ),
            "mixed scope",
        ),
    ];
    for (text, want) in &broken {
        let (_, errors) = PolicySet::from_str("g.yaml", text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.len() == 1 && shown[0].contains(want),
            "{want}: {shown:?}"
        );
    }
    // a custom kind's scope is the cluster's to know: not judged
    let (_, errors) = PolicySet::from_str(
        "g.yaml",
        &generate(
            "ClusterPolicy",
            "",
            "      {apiVersion: example.com/v1, kind: Widget, name: w, data: {}}\n",
        ),
    );
    assert!(errors.is_empty(), "{errors:?}");
    // `target` is read by the mutation of a target only, not by the rule's context
    let targets = |context: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: t}}\nspec:\n  background: false\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [ConfigMap]}}}}]}}\n{context}    mutate:\n      targets: [{{apiVersion: v1, kind: Secret, name: s, namespace: default}}]\n      patchStrategicMerge: {{metadata: {{labels: {{from: \"{{{{ target.metadata.name }}}}\"}}}}}}\n"
        )
    };
    let (_, errors) = PolicySet::from_str(
        "t.yaml",
        &targets("    context: [{name: early, variable: {jmesPath: \"{{target.data.x}}\"}}]\n"),
    );
    assert!(
        errors.len() == 1
            && errors[0]
                .to_string()
                .contains("invalid variables defined at mutate.targets[0]"),
        "{errors:?}"
    );
    let (_, errors) = PolicySet::from_str("t.yaml", &targets(""));
    assert!(errors.is_empty(), "{errors:?}");
    let exception = "apiVersion: policies.kyverno.io/v1alpha1\nkind: PolicyException\nmetadata: {name: e}\nspec:\n  matchConditions: [{name: a, expression: 'true'}]\n";
    let (_, errors) = PolicySet::from_str("e.yaml", exception);
    assert!(
        errors.len() == 1 && errors[0].to_string().contains("policyRefs"),
        "{errors:?}"
    );
}

/// Kyverno's checks of podSecurity exclusions: each broken entry is an error at its field,
/// in policies and in PolicyExceptions.
#[test]
fn invalid_pod_security_exclusions_are_named() {
    let rule = |exclude: &str, level: &str| {
        format!(
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    validate:\n      podSecurity:\n        level: {level}\n        exclude:\n        - {exclude}\n"
        )
    };
    let cases = [
        (
            "{controlName: Capabilities}",
            "baseline",
            "exclude.images must be specified",
        ),
        (
            "{controlName: Sysctls, images: [x]}",
            "baseline",
            "must not be specified",
        ),
        (
            "{controlName: Host Ports, images: [x], restrictedField: \"spec.containers[*].ports[*].hostPort\"}",
            "baseline",
            "values is required",
        ),
        (
            "{controlName: SELinux, values: [x]}",
            "baseline",
            "restrictedField is required",
        ),
        (
            "{controlName: Running as Non-root}",
            "baseline",
            "Invalid control name",
        ),
    ];
    for (exclude, level, want) in cases {
        let (set, errors) = PolicySet::from_str("p.yaml", &rule(exclude, level));
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.len() == 1 && shown[0].starts_with("p.yaml:12:") && shown[0].contains(want),
            "{exclude}: {shown:?}"
        );
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let results = set.evaluate(&pod, &AdmissionInfo::default());
        assert_eq!(results.first().map(|r| r.status), Some(Status::Error));
    }
    // at the restricted level the restricted controls may be named
    let (_, errors) = PolicySet::from_str(
        "p.yaml",
        &rule("{controlName: Running as Non-root}", "restricted"),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let exception = "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: e, namespace: x}\nspec:\n  exceptions: [{policyName: p, ruleNames: [r]}]\n  match: {any: [{resources: {kinds: [Pod]}}]}\n  podSecurity:\n  - controlName: Privileged Containers\n";
    let (_, errors) = PolicySet::from_str("e.yaml", exception);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        shown.len() == 1
            && shown[0].starts_with("e.yaml:8:")
            && shown[0].contains("exclude.images"),
        "{shown:?}"
    );
}

#[test]
fn bad_policies_are_reported_with_position_and_the_rest_still_run() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken}
spec:
  rules:
  - name: bad-jmespath
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.name[ }}"
            operator: Equals
            value: x
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: unknown-anchor}
spec:
  rules:
  - name: anchor
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern:
        spec:
          "!(hostNetwork)": true
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: fine}
spec:
  rules:
  - name: needs-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {metadata: {labels: {app: "?*"}}}
"#;
    let (set, errors) = PolicySet::from_str("policies.yaml", text);
    assert_eq!(errors.len(), 2, "{errors:?}");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(shown[0].starts_with("policies.yaml:12:"), "{}", shown[0]);
    assert!(
        shown[0].contains("policy `broken`") && shown[0].contains("JMESPath"),
        "{}",
        shown[0]
    );
    assert!(matches!(errors[1], KyvernoError::Policy { .. }));
    assert!(
        shown[1].starts_with("policies.yaml:26:") && shown[1].contains("unknown anchor"),
        "{}",
        shown[1]
    );
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let results = set.evaluate(&pod, &AdmissionInfo::default());
    let status = |p: &str| results.iter().find(|r| r.policy == p).map(|r| r.status);
    assert_eq!(status("broken"), Some(Status::Error));
    assert_eq!(status("unknown-anchor"), Some(Status::Error));
    assert_eq!(status("fine"), Some(Status::Fail));
    // No validationFailureAction: Audit, reported rather than blocking.
    assert!(!results.iter().any(|r| r.policy == "fine" && r.enforce));
}

#[test]
fn failure_actions_and_findings() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: enforced
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      pattern: {metadata: {labels: {team: "?*"}}}
  - name: audited
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      failureAction: Audit
      pattern: {metadata: {labels: {owner: "?*"}}}
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let loaded = rampart_manifest::load_str(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n",
    );
    let pod = &loaded.objects[0];
    let results = set.evaluate(&pod.value, &AdmissionInfo::default());
    let enforce: Vec<(&str, bool)> = results
        .iter()
        .map(|r| (r.rule.as_str(), r.enforce))
        .collect();
    // Autogen rules follow the rules they come from.
    assert!(
        enforce.contains(&("enforced", true)) && enforce.contains(&("audited", false)),
        "{enforce:?}"
    );
    let f = results[0].to_finding(pod).unwrap();
    assert_eq!(f.check, "kyverno-policy-violation");
    assert!(f.message.contains("team/enforced"), "{}", f.message);
    let severity = |rule: &str| {
        results
            .iter()
            .find(|r| r.rule == rule)
            .and_then(|r| r.to_finding(pod))
            .map(|f| f.severity)
    };
    assert_eq!(severity("enforced"), Some(rampart_core::Severity::Medium));
    assert_eq!(severity("audited"), Some(rampart_core::Severity::Low));

    // the policy's severity annotation, as Kyverno's reports carry it; not scored: a warning
    let annotated = |annotations: &str| {
        let text = text.replace(
            "metadata: {name: team}",
            &format!("metadata: {{name: team, annotations: {{{annotations}}}}}"),
        );
        let (set, errors) = PolicySet::from_str("p.yaml", &text);
        assert!(errors.is_empty(), "{errors:?}");
        set.evaluate(&pod.value, &AdmissionInfo::default())
            .iter()
            .filter_map(|r| r.to_finding(pod))
            .map(|f| (f.severity, f.message))
            .collect::<Vec<_>>()
    };
    let high = annotated("policies.kyverno.io/severity: High");
    assert!(
        high.iter().all(|(s, _)| *s == rampart_core::Severity::High) && high.len() == 2,
        "{high:?}"
    );
    let unscored =
        annotated("policies.kyverno.io/severity: high, policies.kyverno.io/scored: \"false\"");
    assert!(
        unscored.len() == 2
            && unscored
                .iter()
                .all(|(s, m)| *s == rampart_core::Severity::Info && m.contains("not scored")),
        "{unscored:?}"
    );
    // an unknown severity falls back to the failure action's
    let odd = annotated("policies.kyverno.io/severity: severe");
    assert!(
        odd.iter()
            .any(|(s, _)| *s == rampart_core::Severity::Medium),
        "{odd:?}"
    );
}

#[test]
fn unresolvable_context_is_an_error_not_a_pass() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: lookup}
spec:
  rules:
  - name: from-configmap
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: allowed
      configMap: {name: allowed, namespace: default}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.name }}"
            operator: AnyNotIn
            value: "{{ allowed.data.names }}"
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let r = set.evaluate(&pod, &AdmissionInfo::default());
    assert_eq!(r[0].status, Status::Error);
    assert!(r[0].message.contains("configMap"), "{}", r[0].message);
    // Given through the values, the entry resolves.
    let info = AdmissionInfo {
        values: vec![("allowed.data.names".into(), serde_json::json!("[\"p\"]"))],
        ..AdmissionInfo::default()
    };
    assert_eq!(set.evaluate(&pod, &info)[0].status, Status::Pass);
}

#[test]
fn policy_sets_are_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<PolicySet>();
    shareable::<AdmissionInfo>();
}

#[test]
fn enforced_updates_allow_existing_violations() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {labels: {team: "?*"}}}
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let new =
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let old_bad = new.clone();
    let old_good = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"team": "a"}}});
    let update = |old: &serde_json::Value| AdmissionInfo {
        operation: "UPDATE".into(),
        old_object: Some(old.clone()),
        ..AdmissionInfo::default()
    };
    assert_eq!(
        set.evaluate(&new, &update(&old_bad))[0].status,
        Status::Skip
    );
    assert_eq!(
        set.evaluate(&new, &update(&old_good))[0].status,
        Status::Fail
    );
    assert_eq!(
        set.evaluate(&new, &AdmissionInfo::default())[0].status,
        Status::Fail
    );
}

/// `kyverno test`'s verdicts where the engine's result alone does not decide: a rule name the
/// policy lacks (excluded, a pass), a patched resource missing from its file (no row unless
/// `failOnMissingResources`), a row naming no resource the test has (every resource is
/// checked).
#[test]
fn kyverno_test_verdicts() {
    use rampart_kyverno::testrun::Verdict;
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verdicts/kyverno-test.yaml");
    let rows = run_file(&f).unwrap();
    let got: Vec<(Option<Status>, Verdict)> =
        rows.iter().map(|r| (r.actual, r.verdict())).collect();
    assert_eq!(
        got,
        vec![
            (None, Verdict::Pass),
            (Some(Status::Fail), Verdict::Fail),
            (None, Verdict::Skipped),
            (Some(Status::Fail), Verdict::Fail),
            (Some(Status::Pass), Verdict::Pass),
            (Some(Status::Pass), Verdict::Fail),
            (Some(Status::Fail), Verdict::Pass),
        ],
        "{rows:#?}"
    );
    assert!(
        rows[0].message.contains("has no rule `require-teem`"),
        "{}",
        rows[0].message
    );
    assert!(
        rows[3].message.contains("not found in manifest"),
        "{}",
        rows[3].message
    );
    // the strict comparison still wants a `fail` for an expected `fail`
    assert!(!rows[0].agrees());
}

/// PolicyExceptions: a broken one is an error at its position (the others still apply); a
/// `background: false` exception lifts a rule at admission, not in a background scan; the
/// skip names the exceptions.
#[test]
fn policy_exceptions_load_apply_and_respect_background() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  background: true
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: team label required
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: no-policy, namespace: ops}
spec:
  exceptions:
  - ruleNames: [team-label]
  match: {any: [{resources: {kinds: [ConfigMap]}}]}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: by-user, namespace: ops}
spec:
  exceptions:
  - policyName: require-team
    ruleNames: [team-label]
  match: {any: [{subjects: [{kind: User, name: alice}]}]}
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: admission-only, namespace: ops}
spec:
  background: false
  exceptions:
  - policyName: require-team
    ruleNames: [team-*]
  match: {any: [{resources: {kinds: [ConfigMap], names: [legacy-*]}}]}
"#;
    let (set, errors) = PolicySet::from_str("exc.yaml", text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("exc.yaml:18:5:")
            && shown[0].contains("PolicyException no-policy")
            && shown[0].contains("policyName: Required value"),
        "{shown:?}"
    );
    assert!(
        shown[1].starts_with("exc.yaml:28:18:")
            && shown[1].contains("PolicyException by-user")
            && shown[1].contains("`subjects`"),
        "{shown:?}"
    );
    let legacy = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "legacy-settings", "namespace": "ops"}});
    let other = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "ops"}});
    let info = AdmissionInfo::default();
    let r = set.evaluate(&legacy, &info);
    assert_eq!(
        (r[0].status, r[0].message.as_str()),
        (
            Status::Skip,
            "rule is skipped due to policy exceptions ops/admission-only"
        )
    );
    assert_eq!(set.evaluate(&other, &info)[0].status, Status::Fail);
    // the background scan does not apply it
    assert_eq!(
        set.evaluate_background(&legacy, &info)[0].status,
        Status::Fail
    );
}

/// A CEL variable that fails because another did is reported with the first one's error.
#[test]
fn failed_variables_name_their_cause() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/cel-library/kyverno-test.yaml");
    let rows = run_file(&f).unwrap();
    let row = rows
        .iter()
        .find(|r| r.policy == "spot-only" && r.resource.ends_with("elsewhere"))
        .expect("row");
    assert_eq!(row.actual, Some(Status::Error));
    assert!(
        row.message
            .starts_with("variable `limit`: variable `settings`: ")
            && row.message.contains("No such overload"),
        "{}",
        row.message
    );
}

/// A MutatingAdmissionPolicyBinding whose policy is not loaded is an error at its
/// `policyName`; the policies that are loaded still run.
#[test]
fn dangling_admission_policy_bindings_are_named() {
    let text = r#"apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: orphan}
spec:
  policyName: no-such-policy
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: add-label}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': 'x'}}}"
"#;
    let (set, errors) = PolicySet::from_str("map.yaml", text);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("map.yaml:5:")
            && shown[0].contains(
                "binding `orphan`: no valid MutatingAdmissionPolicy named no-such-policy"
            ),
        "{shown:?}"
    );
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a"}});
    let results = set.evaluate_in_cli_order(&cm, |_, _| AdmissionInfo::default());
    let patched = results
        .iter()
        .flatten()
        .find_map(|r| r.patched.clone())
        .expect("patched");
    assert_eq!(patched["metadata"]["labels"]["team"], "x");
}

/// Test files run one after another on a thread each see their own mocks (a CEL `http` call
/// answered by the previous file's `apiCallResponses` was a stale read).
#[test]
fn each_test_file_sees_its_own_mocks() {
    let dir = tempfile::tempdir().unwrap();
    let policy = r#"apiVersion: policies.kyverno.io/v1beta1
kind: ValidatingPolicy
metadata: {name: flag}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: http.Get("https://flags.test/on").body.enabled
    message: the flag is off
"#;
    let resource = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n";
    let mut rows = Vec::new();
    for (name, on, want) in [("first", true, "pass"), ("second", false, "fail")] {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("policy.yaml"), policy).unwrap();
        std::fs::write(d.join("resource.yaml"), resource).unwrap();
        std::fs::write(
            d.join("kyverno-test.yaml"),
            format!(
                "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: {name}}}\npolicies: [policy.yaml]\nresources: [resource.yaml]\napiCallResponses:\n- url: https://flags.test/on\n  response: {{body: {{enabled: {on}}}}}\nresults:\n- {{policy: flag, isValidatingPolicy: true, kind: ConfigMap, resources: [c], result: {want}}}\n"
            ),
        )
        .unwrap();
        rows.extend(run_file(&d.join("kyverno-test.yaml")).unwrap());
    }
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.agrees()), "{rows:#?}");
}

/// A policy that cannot run reports one error per matching rule in the CLI's order, whatever
/// the phase its rules belong to.
#[test]
fn a_broken_policy_errs_once_per_rule_in_the_cli_order() {
    let text = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken}
spec:
  rules:
  - name: add-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {team: "{{ request.object.metadata.name[ }}"}}}
  - name: check
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: x
      pattern: {metadata: {name: "?*"}}
"#;
    let (set, errors) = PolicySet::from_str("broken.yaml", text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a"}});
    let results: Vec<(String, Status)> = set
        .evaluate_in_cli_order(&cm, |_, _| AdmissionInfo::default())
        .into_iter()
        .flatten()
        .map(|r| (r.rule, r.status))
        .collect();
    assert_eq!(
        results,
        vec![
            ("add-label".to_string(), Status::Error),
            ("check".to_string(), Status::Error)
        ]
    );
}

/// A mutate rule with `targets` never patches the admitted resource (a webhook would return
/// the target's patch for it); what the targets would become is reported apart.
#[test]
fn mutate_targets_leave_the_trigger_alone() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/mutate-existing");
    let (set, errors) = PolicySet::load(&[dir.join("policy.yaml")]);
    assert!(errors.is_empty(), "{errors:?}");
    let trigger = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "shop", "resourceVersion": "7"}});
    let deployment = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "shop"},
        "spec": {"template": {"metadata": {}, "spec": {"containers": []}}}});
    let info = AdmissionInfo {
        resolver: Some(rampart_kyverno::resolver::Resolver::new(
            rampart_kyverno::resolver::ObjectsResolver {
                objects: vec![deployment],
                responses: Vec::new(),
            },
        )),
        ..AdmissionInfo::default()
    };
    let r = set.evaluate(&trigger, &info);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, Status::Pass, "{r:?}");
    assert!(r[0].patched.is_none(), "{r:?}");
    assert_eq!(
        r[0].targets[0]["spec"]["template"]["metadata"]["annotations"]["config-version"],
        "7"
    );
    // without a cluster: an error, not a patch of the trigger
    let r = set.evaluate(&trigger, &AdmissionInfo::default());
    assert_eq!(r[0].status, Status::Error, "{r:?}");
    assert!(r[0].patched.is_none());
}

/// `spec.webhookConfiguration.matchConditions`: the API server calls the policy's webhook only
/// when they hold, so at admission the policy applies only then (`policy apply` and `policy
/// test`, like Kyverno's CLI, do not read them); a condition that does not compile is an error
/// at load.
#[test]
fn webhook_match_conditions_gate_admission() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: team-a-only}
spec:
  validationFailureAction: Enforce
  background: false
  webhookConfiguration:
    matchConditions:
    - name: team-a
      expression: "has(object.metadata.labels) && object.metadata.labels['team'] == 'a'"
  rules:
  - name: no-debug
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: no debug, deny: {}}
"#;
    let (set, errors) = PolicySet::from_str("p.yaml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let cm = |team: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "labels": {"team": team}}})
    };
    let info = AdmissionInfo::default();
    let a = set.evaluate_admission(&cm("a"), &info);
    assert!(a.len() == 1 && a[0].status == Status::Fail, "{a:?}");
    assert!(set.evaluate_admission(&cm("b"), &info).is_empty());
    // the CLI's order does not read them, as Kyverno's CLI does not
    let cli = set.evaluate_in_cli_order(&cm("b"), |_, _| AdmissionInfo::default());
    assert!(
        cli.iter().flatten().any(|r| r.status == Status::Fail),
        "{cli:?}"
    );
    let (_, errors) = PolicySet::from_str("p.yaml", &text.replace("== 'a'\"", "== \""));
    assert!(
        errors.iter().any(|e| e
            .to_string()
            .contains("match conditions compilation errors")),
        "{errors:?}"
    );
}
