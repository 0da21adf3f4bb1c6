//! Prometheus metrics: requests by decision, kind and namespace; latency; violations by check.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 50µs .. ~0.8s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 15))
}

fn registry_histogram() -> Histogram {
    // 1ms .. ~16s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    violations: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    image_verifications: Family<Labels, Counter>,
    /// The cache's two counters, held to keep lookups on the hot path free of label hashing.
    image_cache_hit: Counter,
    image_cache_miss: Counter,
    registry_latency: Family<Labels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<Labels, Counter>::default();
        let latency =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let violations = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by endpoint, decision, kind, namespace and dry run",
            requests.clone(),
        );
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission request, by endpoint",
            latency.clone(),
        );
        registry.register(
            "admission_violations",
            "Violations found, by check and mode",
            violations.clone(),
        );
        registry.register(
            "http_errors",
            "Requests rejected before evaluation, by status code",
            errors.clone(),
        );
        let image_verifications = Family::<Labels, Counter>::default();
        let image_cache = Family::<Labels, Counter>::default();
        let registry_latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            registry_histogram,
        );
        registry.register(
            "image_verifications",
            "Image signature verifications against the registry, by policy and result (verified, failed, unreachable)",
            image_verifications.clone(),
        );
        registry.register(
            "image_cache",
            "Image verification cache lookups, by result (hit, miss)",
            image_cache.clone(),
        );
        registry.register(
            "image_registry_duration_seconds",
            "Time a cold image verification spent on registry calls, by policy",
            registry_latency.clone(),
        );
        let image_cache_hit = image_cache
            .get_or_create(&vec![("result", "hit".to_string())])
            .clone();
        let image_cache_miss = image_cache
            .get_or_create(&vec![("result", "miss".to_string())])
            .clone();
        Metrics {
            registry,
            requests,
            latency,
            violations,
            errors,
            image_verifications,
            image_cache_hit,
            image_cache_miss,
            registry_latency,
        }
    }

    pub(crate) fn request(
        &self,
        endpoint: &'static str,
        decision: &str,
        kind: &str,
        namespace: &str,
        dry_run: bool,
    ) {
        self.requests
            .get_or_create(&vec![
                ("endpoint", endpoint.to_string()),
                ("decision", decision.to_string()),
                ("kind", kind.to_string()),
                ("namespace", namespace.to_string()),
                ("dry_run", dry_run.to_string()),
            ])
            .inc();
    }

    pub(crate) fn latency(&self, endpoint: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&vec![("endpoint", endpoint.to_string())])
            .observe(seconds);
    }

    pub(crate) fn violation(&self, check: &str, mode: &str, dry_run: bool) {
        self.violations
            .get_or_create(&vec![
                ("check", check.to_string()),
                ("mode", mode.to_string()),
                ("dry_run", dry_run.to_string()),
            ])
            .inc();
    }

    pub(crate) fn error(&self, status: u16) {
        self.errors
            .get_or_create(&vec![("code", status.to_string())])
            .inc();
    }

    pub(crate) fn image_verification(&self, policy: &str, result: &'static str) {
        self.image_verifications
            .get_or_create(&vec![
                ("policy", policy.to_string()),
                ("result", result.to_string()),
            ])
            .inc();
    }

    pub(crate) fn image_cache(&self, hit: bool) {
        if hit {
            self.image_cache_hit.inc();
        } else {
            self.image_cache_miss.inc();
        }
    }

    pub(crate) fn registry_latency(&self, policy: &str, seconds: f64) {
        self.registry_latency
            .get_or_create(&vec![("policy", policy.to_string())])
            .observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if encode(&mut s, &self.registry).is_err() {
            s.clear();
        }
        s
    }
}
