//! Reading a live cluster through kube-rs.
//!
//! Discovery first (`/api`, `/apis` and the group versions of the kinds the analyzers read, and
//! of [`Options::extra_kinds`]: a kind without a group is looked for in every group served),
//! then one paginated list (`limit`/`continue`) per kind, [`Options::parallelism`] at a time,
//! each request retried with exponential backoff on 429 and 5xx. Secrets are listed as
//! `PartialObjectMetadataList`: their values never leave the cluster. A kind the credentials
//! cannot list (403) is recorded in [`Fetched::not_readable`] with the RBAC rule it needs, and the
//! rest goes on. A list whose `continue` token expires midway (410 Gone, reason `Expired`) starts
//! over, at most [`LIST_RESTARTS`] times. Then each node's kubelet configuration is read through
//! the node proxy ([`crate::kubelet`]); nodes it cannot be read from are named in
//! [`Fetched::notes`].

use crate::ClusterError;
use kube::Client;
use kube::api::{GetParams, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rampart_manifest::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One kind the analyzers read.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub group: Cow<'static, str>,
    pub kind: Cow<'static, str>,
    /// Listed as metadata only.
    pub metadata_only: bool,
}

const fn w(group: &'static str, kind: &'static str) -> Wanted {
    Wanted {
        group: Cow::Borrowed(group),
        kind: Cow::Borrowed(kind),
        metadata_only: false,
    }
}

/// Every kind `cluster scan` reads, in the order they are requested.
pub static WANTED: [Wanted; 24] = [
    w("", "Pod"),
    w("apps", "Deployment"),
    w("apps", "StatefulSet"),
    w("apps", "DaemonSet"),
    w("apps", "ReplicaSet"),
    w("batch", "Job"),
    w("batch", "CronJob"),
    w("", "ReplicationController"),
    w("", "Service"),
    w("networking.k8s.io", "Ingress"),
    w("networking.k8s.io", "NetworkPolicy"),
    w("rbac.authorization.k8s.io", "Role"),
    w("rbac.authorization.k8s.io", "ClusterRole"),
    w("rbac.authorization.k8s.io", "RoleBinding"),
    w("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    w("", "ServiceAccount"),
    w("", "Namespace"),
    w(
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    w(
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    w("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    w(
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    w("", "Node"),
    w("policy", "PodDisruptionBudget"),
    Wanted {
        group: Cow::Borrowed(""),
        kind: Cow::Borrowed("Secret"),
        metadata_only: true,
    },
];

/// How to reach the cluster and how hard to pull.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--kubeconfig` (default: `$KUBECONFIG`, `~/.kube/config`, or the in-cluster account).
    pub kubeconfig: Option<PathBuf>,
    /// `--context` (default: the kubeconfig's current context).
    pub context: Option<String>,
    /// `-n`: namespaced kinds are listed in this namespace only.
    pub namespace: Option<String>,
    /// Lists in flight at once.
    pub parallelism: usize,
    /// Items per page.
    pub page_size: u32,
    /// Attempts per request on 429, 5xx and transport errors.
    pub attempts: u32,
    /// Delay before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// More kinds to read (the kinds `--policies` match): `Kind`, `version/Kind` or
    /// `group/version/Kind`, found by discovery (a kind without a group in the core group, else
    /// in any group the server serves).
    pub extra_kinds: Vec<String>,
    /// More resources to read, as (API group, plural) pairs (a ValidatingAdmissionPolicy's
    /// `resourceRules`); `*` as the group: any group served.
    pub extra_resources: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            kubeconfig: None,
            context: None,
            namespace: None,
            parallelism: 4,
            page_size: 500,
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            extra_kinds: Vec::new(),
            extra_resources: Vec::new(),
        }
    }
}

/// A kind that could not be read, and what would let the scan read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotReadable {
    pub group: String,
    pub kind: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
    /// The API's answer (`403 Forbidden: …`).
    pub reason: String,
    /// The RBAC rule that grants the list, in Role syntax.
    pub rbac: String,
}

/// Counters of one fetch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub requests: usize,
    pub pages: usize,
    pub retries: usize,
    pub elapsed: Duration,
}

/// What a fetch read.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Normalized, in the order of [`crate::settle`].
    pub objects: Vec<Object>,
    pub not_readable: Vec<NotReadable>,
    /// The kubeconfig context used (empty in-cluster).
    pub context: String,
    /// The API server's address.
    pub server: String,
    pub stats: Stats,
    /// The kubelet configuration of each node it could be read from, by node name.
    pub kubelet: Vec<crate::kubelet::KubeletConfigz>,
    /// What the scan could not do and went on without: kubelet configurations not read, lists
    /// that failed after their restarts.
    pub notes: Vec<String>,
    /// The kinds the server serves that were listed (or tried: see `not_readable`).
    pub kinds: Vec<String>,
    /// The same as `group/plural`.
    pub resources: Vec<String>,
}

/// How many times a list starts over when its `continue` token expires (410 Gone).
pub const LIST_RESTARTS: usize = 2;

/// [`fetch`] on its own runtime, for callers that are not async.
pub fn fetch_blocking(opts: &Options) -> Result<Fetched, ClusterError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(fetch(opts))
}

/// The clients of a fetch: the lists' (kube-rs retries 429, 503 and 504 itself, up to 15 times
/// with a growing delay), and the node proxy's, without that retry and with a shorter timeout: a
/// kubelet that is down answers 503 through the proxy, and two attempts are enough.
struct Clients {
    lists: Client,
    proxy: Client,
}

async fn client(opts: &Options) -> Result<(Clients, String, String), ClusterError> {
    let kc_opts = KubeConfigOptions {
        context: opts.context.clone(),
        ..KubeConfigOptions::default()
    };
    let cfg_err = |e: kube::config::KubeconfigError| ClusterError::Config(e.to_string());
    let (mut config, context) = match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(cfg_err)?;
            let context = opts
                .context
                .clone()
                .or_else(|| kc.current_context.clone())
                .unwrap_or_default();
            (
                kube::Config::from_custom_kubeconfig(kc, &kc_opts)
                    .await
                    .map_err(cfg_err)?,
                context,
            )
        }
        None if opts.context.is_some() => (
            kube::Config::from_kubeconfig(&kc_opts)
                .await
                .map_err(cfg_err)?,
            opts.context.clone().unwrap_or_default(),
        ),
        None => {
            let context = Kubeconfig::read()
                .ok()
                .and_then(|k| k.current_context)
                .unwrap_or_default();
            (
                kube::Config::infer()
                    .await
                    .map_err(|e| ClusterError::Config(e.to_string()))?,
                context,
            )
        }
    };
    config.read_timeout = Some(opts.timeout);
    config.connect_timeout = Some(opts.timeout.min(Duration::from_secs(30)));
    let server = config.cluster_url.to_string();
    let mut proxy = config.clone();
    proxy.default_retry = false;
    // the API server waits on the kubelet: a node that does not answer should not hold the
    // scan for the lists' minute
    proxy.read_timeout = Some(opts.timeout.min(Duration::from_secs(15)));
    let api = |e: kube::Error| ClusterError::Api(e.to_string());
    let clients = Clients {
        lists: Client::try_from(config).map_err(api)?,
        proxy: Client::try_from(proxy).map_err(api)?,
    };
    Ok((clients, context, server))
}

/// The outcome of one request after its retries.
enum Outcome {
    Ok(Value),
    Forbidden(String),
    NotFound,
    /// 410 Gone: a list's `continue` token expired.
    Gone(String),
    Failed(String),
}

/// What a request asks for.
enum Verb<'a> {
    /// A list (or a plain GET of discovery, which is a list with no parameters).
    List {
        params: &'a ListParams,
        metadata_only: bool,
    },
    /// `GET <path>/<name>`.
    Get(&'a str),
}

/// A GET that retries 429, 5xx and transport errors with exponential backoff.
async fn get(
    client: &Client,
    req: impl Fn() -> Result<kube::core::Request, String>,
    verb: Verb<'_>,
    opts: &Options,
    retries: &mut usize,
) -> Outcome {
    let mut delay = opts.backoff;
    let mut last = String::new();
    for attempt in 0..opts.attempts.max(1) {
        if attempt > 0 {
            *retries += 1;
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        let request = match req() {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(e),
        };
        let built = match &verb {
            Verb::List {
                params,
                metadata_only: true,
            } => request.list_metadata(params),
            Verb::List { params, .. } => request.list(params),
            Verb::Get(name) => request.get(name, &GetParams::default()),
        };
        let built = match built {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        match client.request::<Value>(built).await {
            Ok(v) => return Outcome::Ok(v),
            Err(kube::Error::Api(status)) => {
                let code = status.code;
                let msg = format!("{code} {}: {}", status.reason, status.message);
                match code {
                    403 | 401 => return Outcome::Forbidden(msg),
                    404 => return Outcome::NotFound,
                    410 => return Outcome::Gone(msg),
                    429 | 500..=599 => last = msg,
                    _ => return Outcome::Failed(msg),
                }
            }
            Err(e) => last = e.to_string(),
        }
    }
    Outcome::Failed(format!("gave up after {} attempts: {last}", opts.attempts))
}

/// Discovery for one group: its preferred version and the resource of each wanted kind in it.
/// A kind of `need` the preferred version does not serve is looked for in the group's other
/// versions (kyverno.io serves ClusterPolicy in v1 and PolicyException in v2); such a resource
/// carries its `version`. `extra` counts those further requests.
async fn discover_group(
    client: &Client,
    group: &str,
    need: &[String],
    opts: &Options,
    retries: &mut usize,
    extra: &mut usize,
) -> Result<Option<(String, Vec<Value>)>, String> {
    let lp = ListParams::default();
    let list = || Verb::List {
        params: &lp,
        metadata_only: false,
    };
    let plain = |path: String| move || Ok::<_, String>(kube::core::Request::new(path.clone()));
    // `/api` and `/apis/<group>` answer with the versions; a GET on them is a plain request,
    // which `Request::list` with no parameters is.
    let mut others: Vec<String> = Vec::new();
    let version = if group.is_empty() {
        match get(client, plain("/api".into()), list(), opts, retries).await {
            Outcome::Ok(v) => v
                .get("versions")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find_map(Value::as_str).map(str::to_string)),
            Outcome::NotFound => None,
            Outcome::Forbidden(e) | Outcome::Gone(e) | Outcome::Failed(e) => return Err(e),
        }
    } else {
        match get(
            client,
            plain(format!("/apis/{group}")),
            list(),
            opts,
            retries,
        )
        .await
        {
            Outcome::Ok(v) => {
                let preferred = v
                    .pointer("/preferredVersion/version")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                others = v
                    .get("versions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.get("version").and_then(Value::as_str))
                    .filter(|x| Some(*x) != preferred.as_deref())
                    .map(str::to_string)
                    .collect();
                preferred
            }
            Outcome::NotFound => None,
            Outcome::Forbidden(e) | Outcome::Gone(e) | Outcome::Failed(e) => return Err(e),
        }
    };
    let Some(version) = version else {
        return Ok(None);
    };
    let path = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    match get(client, plain(path), list(), opts, retries).await {
        Outcome::Ok(v) => {
            let mut resources = v
                .get("resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for other in others {
                let missing: Vec<&String> = need
                    .iter()
                    .filter(|k| serves(&resources, k).is_none())
                    .collect();
                if missing.is_empty() {
                    break;
                }
                *extra += 1;
                let Outcome::Ok(o) = get(
                    client,
                    plain(format!("/apis/{group}/{other}")),
                    list(),
                    opts,
                    retries,
                )
                .await
                else {
                    continue;
                };
                for mut r in o
                    .get("resources")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                    let is_sub = r
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.contains('/'));
                    if !is_sub && missing.iter().any(|k| k.as_str() == kind) {
                        if let Some(m) = r.as_object_mut() {
                            m.insert("version".into(), Value::String(other.clone()));
                        }
                        resources.push(r);
                    }
                }
            }
            Ok(Some((version, resources)))
        }
        Outcome::NotFound => Ok(None),
        Outcome::Forbidden(e) | Outcome::Gone(e) | Outcome::Failed(e) => Err(e),
    }
}

/// A `--policies` kind selector (`Kind`, `version/Kind`, `group/version/Kind`) as the group it
/// names (the core group for `v1/Kind`; `None`: any) and the kind; `None` for `*`.
fn extra_kind(selector: &str) -> Option<(Option<String>, String)> {
    let parts: Vec<&str> = selector.split('/').collect();
    let kind = parts.last()?.to_string();
    if kind.is_empty() || kind.contains('*') || kind.contains('?') {
        return None;
    }
    let group = match parts.as_slice() {
        [_] => None,
        [version, _] => (!version.contains('.') && *version != "*").then(String::new),
        [group, _, _] if *group != "*" => Some(group.to_string()),
        _ => None,
    };
    Some((group, kind))
}

/// The resource of `kind` among a group version's discovered resources (not a subresource).
fn serves<'a>(resources: &'a [Value], kind: &str) -> Option<&'a Value> {
    resources.iter().find(|r| {
        r.get("kind").and_then(Value::as_str) == Some(kind)
            && r.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.contains('/'))
    })
}

/// Discovers `groups` side by side: each served one's preferred version and resources.
async fn discover_groups(
    client: &Client,
    groups: Vec<String>,
    need: &[(Option<String>, String)],
    opts: &Options,
    stats: &mut Stats,
    discovered: &mut Vec<(String, String, Vec<Value>)>,
    errors: &mut Vec<String>,
) -> Result<(), ClusterError> {
    let mut set = tokio::task::JoinSet::new();
    for g in groups {
        let client = client.clone();
        let opts = opts.clone();
        // the kinds named in this group
        let need: Vec<String> = need
            .iter()
            .filter(|(ng, _)| ng.as_deref() == Some(g.as_str()))
            .map(|(_, k)| k.clone())
            .collect();
        set.spawn(async move {
            let (mut retries, mut extra) = (0, 0);
            let r = discover_group(&client, &g, &need, &opts, &mut retries, &mut extra).await;
            (g, r, retries, extra)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (g, r, retries, extra) = joined.map_err(|e| ClusterError::Api(e.to_string()))?;
        stats.retries += retries;
        stats.requests += 2 + retries + extra;
        match r {
            Ok(Some((version, resources))) => discovered.push((g, version, resources)),
            Ok(None) => {}
            Err(e) => errors.push(format!("discovery of group `{g}`: {e}")),
        }
    }
    discovered.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(())
}

/// A served kind, from discovery.
#[derive(Debug, Clone)]
struct Served {
    wanted: Wanted,
    api_version: String,
    plural: String,
    namespaced: bool,
}

/// Reads every kind of [`WANTED`] the cluster serves.
pub async fn fetch(opts: &Options) -> Result<Fetched, ClusterError> {
    let t0 = Instant::now();
    let (clients, context, server) = client(opts).await?;
    let client = clients.lists;
    let mut stats = Stats::default();
    let mut groups: Vec<String> = WANTED.iter().map(|w| w.group.to_string()).collect();
    let mut extras: Vec<(Option<String>, String)> = opts
        .extra_kinds
        .iter()
        .filter_map(|k| extra_kind(k))
        .filter(|(_, kind)| !WANTED.iter().any(|w| w.kind == kind.as_str()))
        .collect();
    groups.extend(extras.iter().filter_map(|(g, _)| g.clone()));
    groups.extend(
        opts.extra_resources
            .iter()
            .filter(|(g, r)| g != "*" && r != "*")
            .map(|(g, _)| g.clone()),
    );
    groups.sort_unstable();
    groups.dedup();
    let mut discovered: Vec<(String, String, Vec<Value>)> = Vec::new();
    let mut discovery_errors = Vec::new();
    discover_groups(
        &client,
        groups,
        &extras,
        opts,
        &mut stats,
        &mut discovered,
        &mut discovery_errors,
    )
    .await?;
    // kinds without a group that the core group does not serve: every group the server has
    let unfound = |discovered: &[(String, String, Vec<Value>)]| {
        extras.iter().any(|(g, kind)| {
            g.is_none()
                && !discovered
                    .iter()
                    .any(|(_, _, rs)| serves(rs, kind).is_some())
        })
    };
    let any_group = opts
        .extra_resources
        .iter()
        .any(|(g, r)| g == "*" && r != "*");
    if unfound(&discovered) || any_group {
        let mut retries = 0;
        let lp = ListParams::default();
        let all = match get(
            &client,
            || Ok::<_, String>(kube::core::Request::new("/apis".to_string())),
            Verb::List {
                params: &lp,
                metadata_only: false,
            },
            opts,
            &mut retries,
        )
        .await
        {
            Outcome::Ok(v) => v
                .get("groups")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|g| g.get("name").and_then(Value::as_str))
                .filter(|g| !discovered.iter().any(|(d, _, _)| d == g))
                .map(str::to_string)
                .collect(),
            Outcome::NotFound => Vec::new(),
            Outcome::Forbidden(e) | Outcome::Gone(e) | Outcome::Failed(e) => {
                discovery_errors.push(format!("discovery of the groups: {e}"));
                Vec::new()
            }
        };
        stats.retries += retries;
        stats.requests += 1 + retries;
        discover_groups(
            &client,
            all,
            &extras,
            opts,
            &mut stats,
            &mut discovered,
            &mut discovery_errors,
        )
        .await?;
    }
    // resources by plural, as the kinds discovery names them
    for (g, plural) in opts.extra_resources.iter().filter(|(_, r)| r != "*") {
        for (dg, _, rs) in discovered.iter().filter(|(dg, _, _)| g == "*" || g == dg) {
            let found = rs
                .iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(plural));
            if let Some(kind) = found.and_then(|r| r.get("kind")).and_then(Value::as_str)
                && !WANTED.iter().any(|w| w.kind == kind)
                && !extras
                    .iter()
                    .any(|(eg, ek)| eg.as_deref() == Some(dg.as_str()) && ek == kind)
            {
                extras.push((Some(dg.clone()), kind.to_string()));
            }
        }
    }
    let mut served = Vec::new();
    let wanted_list: Vec<Wanted> = WANTED
        .iter()
        .cloned()
        .chain(extras.iter().filter_map(|(g, kind)| {
            // the core group first, then the groups in name order
            let (group, _, _) = discovered
                .iter()
                .filter(|(dg, _, rs)| {
                    g.as_ref().is_none_or(|g| g == dg) && serves(rs, kind).is_some()
                })
                .min_by_key(|(dg, _, _)| (!dg.is_empty(), dg.clone()))?;
            Some(Wanted {
                group: Cow::Owned(group.clone()),
                kind: Cow::Owned(kind.clone()),
                metadata_only: false,
            })
        }))
        .collect();
    for wanted in &wanted_list {
        let Some((g, version, resources)) = discovered.iter().find(|(g, _, _)| *g == wanted.group)
        else {
            continue;
        };
        if let Some(r) = serves(resources, &wanted.kind) {
            // a kind found in another version than the preferred one carries it
            let version = r
                .get("version")
                .and_then(Value::as_str)
                .map_or_else(|| version.clone(), str::to_string);
            served.push(Served {
                wanted: wanted.clone(),
                api_version: if g.is_empty() {
                    version
                } else {
                    format!("{g}/{version}")
                },
                plural: r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                namespaced: r
                    .get("namespaced")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
    }
    if served.is_empty() {
        return Err(ClusterError::Api(if discovery_errors.is_empty() {
            format!("{server} serves none of the kinds a scan reads")
        } else {
            discovery_errors.join("; ")
        }));
    }
    served.sort_by_key(|s| {
        wanted_list
            .iter()
            .position(|w| w.kind == s.wanted.kind && w.group == s.wanted.group)
    });
    let kinds: Vec<String> = served.iter().map(|s| s.wanted.kind.to_string()).collect();
    let resources: Vec<String> = served
        .iter()
        .map(|s| format!("{}/{}", s.wanted.group, s.plural))
        .collect();
    // the lists, `parallelism` at a time
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.parallelism.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for s in served {
        let client = client.clone();
        let opts = opts.clone();
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            list_all(&client, &s, &opts).await
        });
    }
    let mut out = Fetched {
        context,
        server,
        kinds,
        resources,
        ..Fetched::default()
    };
    while let Some(joined) = set.join_next().await {
        let listed = joined.map_err(|e| ClusterError::Api(e.to_string()))?;
        stats.requests += listed.requests;
        stats.pages += listed.pages;
        stats.retries += listed.retries;
        out.objects.extend(listed.objects);
        if let Some(nr) = listed.not_readable {
            out.not_readable.push(nr);
        }
        out.notes.extend(listed.note);
    }
    out.notes.sort();
    for e in discovery_errors {
        tracing::warn!("{e}");
    }
    crate::settle(&mut out.objects, None);
    let nodes: Vec<String> = out
        .objects
        .iter()
        .filter(|o| o.kind() == "Node" && o.api_version() == "v1")
        .map(|o| o.name().to_string())
        .collect();
    let (kubelet, failures, k_stats) = kubelet_configs(&clients.proxy, &nodes, opts).await?;
    stats.requests += k_stats.requests;
    stats.retries += k_stats.retries;
    out.kubelet = kubelet;
    out.notes.extend(crate::kubelet::notes(failures));
    out.not_readable
        .sort_by(|a, b| (&a.group, &a.kind).cmp(&(&b.group, &b.kind)));
    stats.elapsed = t0.elapsed();
    out.stats = stats;
    Ok(out)
}

#[derive(Default)]
struct Listed {
    objects: Vec<Object>,
    not_readable: Option<NotReadable>,
    note: Option<String>,
    requests: usize,
    pages: usize,
    retries: usize,
}

async fn list_all(client: &Client, s: &Served, opts: &Options) -> Listed {
    let path = match (&opts.namespace, s.namespaced) {
        (Some(ns), true) if s.api_version.contains('/') => {
            format!("/apis/{}/namespaces/{ns}/{}", s.api_version, s.plural)
        }
        (Some(ns), true) => format!("/api/{}/namespaces/{ns}/{}", s.api_version, s.plural),
        _ if s.api_version.contains('/') => format!("/apis/{}/{}", s.api_version, s.plural),
        _ => format!("/api/{}/{}", s.api_version, s.plural),
    };
    let mut listed = Listed::default();
    let mut token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let mut lp = ListParams::default().limit(opts.page_size);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let p = path.clone();
        let outcome = get(
            client,
            move || Ok(kube::core::Request::new(p.clone())),
            Verb::List {
                params: &lp,
                metadata_only: s.wanted.metadata_only,
            },
            opts,
            &mut listed.retries,
        )
        .await;
        listed.requests += 1;
        let page = match outcome {
            Outcome::Ok(v) => v,
            Outcome::NotFound => return listed,
            // the continue token expired (the list outlived etcd's compaction): the pages read
            // so far may be inconsistent with the rest, so the list starts over
            Outcome::Gone(reason) if token.is_some() => {
                if restarts < LIST_RESTARTS {
                    restarts += 1;
                    tracing::debug!(kind = %s.wanted.kind, restarts, "{reason}: list restarted");
                    listed.objects.clear();
                    token = None;
                    continue;
                }
                listed.note = Some(format!(
                    "{} ({}) not read: its list was restarted {restarts} times after its continue token expired and failed again ({reason}); the audit went on without them",
                    s.wanted.kind,
                    if s.wanted.group.is_empty() {
                        "core"
                    } else {
                        &*s.wanted.group
                    }
                ));
                listed.objects.clear();
                return listed;
            }
            Outcome::Forbidden(reason) | Outcome::Gone(reason) | Outcome::Failed(reason) => {
                listed.not_readable = Some(NotReadable {
                    group: s.wanted.group.to_string(),
                    kind: s.wanted.kind.to_string(),
                    resource: s.plural.clone(),
                    namespace: opts.namespace.clone().filter(|_| s.namespaced),
                    rbac: format!(
                        "{{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [\"list\"]}}",
                        s.wanted.group, s.plural
                    ),
                    reason,
                });
                listed.objects.clear();
                return listed;
            }
        };
        listed.pages += 1;
        let items = page
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for mut item in items {
            if let Some(m) = item.as_object_mut() {
                if s.wanted.metadata_only {
                    // a PartialObjectMetadata: only its metadata is the object's
                    m.retain(|k, _| k == "metadata");
                }
                // list items carry no apiVersion and kind; put them first, as a dump has them
                let mut typed = serde_json::Map::with_capacity(m.len() + 2);
                typed.insert("apiVersion".into(), Value::String(s.api_version.clone()));
                typed.insert("kind".into(), Value::String(s.wanted.kind.to_string()));
                for (k, v) in std::mem::take(m) {
                    if k != "apiVersion" && k != "kind" {
                        typed.insert(k, v);
                    }
                }
                *m = typed;
            }
            if let Some(o) = crate::normalize(item) {
                listed.objects.push(o);
            }
        }
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return listed;
        }
    }
}

/// Counters of the kubelet configuration reads.
#[derive(Default)]
struct KubeletStats {
    requests: usize,
    retries: usize,
}

/// One node's configz through the API server's node proxy.
async fn configz(
    client: &Client,
    node: &str,
    opts: &Options,
    retries: &mut usize,
) -> Result<crate::kubelet::KubeletConfigz, (bool, String)> {
    let path = format!("/api/v1/nodes/{node}/proxy");
    let outcome = get(
        client,
        move || Ok(kube::core::Request::new(path.clone())),
        Verb::Get("configz"),
        opts,
        retries,
    )
    .await;
    match outcome {
        Outcome::Ok(v) => crate::kubelet::parse(node, v).ok_or((
            false,
            "the node proxy's configz answer holds no `kubeletconfig`".to_string(),
        )),
        Outcome::Forbidden(reason) => Err((
            true,
            format!(
                "{reason}; reading it needs {}",
                crate::kubelet::CONFIGZ_RBAC
            ),
        )),
        Outcome::NotFound => Err((
            false,
            "404 Not Found: the API server does not proxy to this node's kubelet".to_string(),
        )),
        Outcome::Gone(reason) | Outcome::Failed(reason) => {
            Err((false, format!("the kubelet could not be reached: {reason}")))
        }
    }
}

/// Every node's kubelet configuration, `parallelism` at a time. The first node is asked alone:
/// when the credentials may not use the node proxy (403), no other node is asked and they all
/// share its note.
async fn kubelet_configs(
    client: &Client,
    nodes: &[String],
    opts: &Options,
) -> Result<
    (
        Vec<crate::kubelet::KubeletConfigz>,
        Vec<(String, String)>,
        KubeletStats,
    ),
    ClusterError,
> {
    let mut stats = KubeletStats::default();
    let mut configs = Vec::new();
    let mut failures = Vec::new();
    let Some((first, rest)) = nodes.split_first() else {
        return Ok((configs, failures, stats));
    };
    // a kubelet that is down answers 5xx through the proxy: one retry, not the lists' five
    let opts = Options {
        attempts: opts.attempts.min(2),
        ..opts.clone()
    };
    let mut retries = 0;
    let r = configz(client, first, &opts, &mut retries).await;
    stats.requests += 1 + retries;
    stats.retries += retries;
    match r {
        Ok(c) => configs.push(c),
        Err((forbidden, reason)) => {
            failures.push((first.clone(), reason.clone()));
            if forbidden {
                failures.extend(rest.iter().map(|n| (n.clone(), reason.clone())));
                return Ok((configs, failures, stats));
            }
        }
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(opts.parallelism.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for node in rest {
        let client = client.clone();
        let opts = opts.clone();
        let permits = permits.clone();
        let node = node.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let mut retries = 0;
            let r = configz(&client, &node, &opts, &mut retries).await;
            (node, r, retries)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (node, r, retries) = joined.map_err(|e| ClusterError::Api(e.to_string()))?;
        stats.requests += 1 + retries;
        stats.retries += retries;
        match r {
            Ok(c) => configs.push(c),
            Err((_, reason)) => failures.push((node, reason)),
        }
    }
    configs.sort_by(|a, b| a.node.cmp(&b.node));
    Ok((configs, failures, stats))
}
