//! `rampart serve`: the HTTPS admission webhook.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Serving certificate (PEM chain); re-read when it changes.
    #[arg(long)]
    tls_cert: PathBuf,
    /// Serving private key (PEM); re-read when it changes.
    #[arg(long)]
    tls_key: PathBuf,
    /// Configuration file (YAML): PSS modes, check actions, namespaces, exemptions, limits.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Longest wait for in-flight requests after SIGTERM, in seconds.
    #[arg(long, default_value_t = 25)]
    shutdown_grace_seconds: u64,
    /// Gatekeeper ConstraintTemplates and Constraints, ValidatingAdmissionPolicies and their
    /// bindings, and Kyverno policies (files or directories) to enforce as well. A broken policy is reported and
    /// skipped; the rest are enforced.
    #[arg(long)]
    policies: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        None => rampart_server::Config::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            match rampart_server::Config::parse(&path.display().to_string(), &text) {
                Ok(c) => c,
                Err(errs) => {
                    let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
                    anyhow::bail!("invalid configuration:\n{}", msgs.join("\n"));
                }
            }
        }
    };
    let loaded = if args.policies.is_empty() {
        rampart_engine::Policies::default()
    } else {
        rampart_engine::load_policies(&args.policies).context("loading --policies")?
    };
    // a policy that cannot run is skipped: the server starts with the others
    for e in &loaded.errors {
        eprintln!("rampart: warning: policy skipped: {e}");
    }
    let policies = loaded.gatekeeper.map(std::sync::Arc::new);
    let kyverno = loaded.kyverno.map(|mut set| {
        // configMap and apiCall context entries are read live from the cluster, each call
        // bounded well within the API server's webhook timeout
        if set.needs_cluster() {
            match rampart_kyverno::live::KubeResolver::infer(Duration::from_secs(3)) {
                Ok(r) => set.resolver = Some(rampart_kyverno::resolver::Resolver::new(r)),
                Err(e) => eprintln!(
                    "rampart: warning: kyverno configMap/apiCall context entries cannot be resolved (their rules will report errors): {e}"
                ),
            }
        }
        // verifyImages rules verify signatures against the registries (Docker config
        // credentials), within the webhook's time budget
        if set.verifies_images() {
            let opts = rampart_images::registry::ClientOptions {
                credentials: rampart_images::registry::Credentials::load_default()
                    .unwrap_or_default(),
                timeout: Duration::from_secs(2),
                ..Default::default()
            };
            match rampart_kyverno::registry::RegistryVerifier::new(opts) {
                Ok(v) => set.image_verifier = Some(rampart_kyverno::images::Verifier::new(v)),
                Err(e) => eprintln!(
                    "rampart: warning: kyverno verifyImages rules cannot reach registries (they will report errors): {e}"
                ),
            }
        }
        std::sync::Arc::new(set)
    });
    let opts = rampart_server::ServeOptions {
        policies,
        kyverno,
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        config,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
    };
    // main installs a warn-level global subscriber for every command; the server logs at
    // info by default, optionally as JSON.
    rampart_server::serve_blocking(opts, Some(log_dispatch(args.log_format)))
        .context("admission webhook")?;
    Ok(ExitCode::SUCCESS)
}

fn log_dispatch(format: LogFormat) -> tracing::Dispatch {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::log_ansi());
    match format {
        LogFormat::Json => tracing::Dispatch::new(builder.json().flatten_event(true).finish()),
        LogFormat::Text => tracing::Dispatch::new(builder.finish()),
    }
}
