//! `rampart images`: list the images of manifests, pin tags to digests in place, verify cosign
//! signatures against a registry.

use anyhow::Context as _;
use rampart_images::registry::{Client, ClientOptions, Credentials};
use rampart_images::{ImageUse, Reference, keys::PublicKey};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    #[value(alias = "txt")]
    Text,
    Json,
}

/// How to reach registries (shared by `pin` and `verify`).
#[derive(Debug, Clone, clap::Args)]
struct RegistryArgs {
    /// Talk plain HTTP to registries (cosign's flag; for a local or test registry).
    #[arg(long)]
    allow_insecure_registry: bool,
    /// Trust this CA (PEM) for registries, besides the system's.
    #[arg(long, value_name = "FILE")]
    registry_ca: Option<PathBuf>,
    /// Docker config with registry credentials (default: $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json). `pin` also uses the manifests' `dockerconfigjson` Secrets.
    #[arg(long, value_name = "FILE")]
    registry_config: Option<PathBuf>,
    /// Bound on each registry request, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
}

impl RegistryArgs {
    fn client(&self) -> anyhow::Result<Client> {
        self.client_with(&[])
    }

    /// A client whose credentials also hold the `dockerconfigjson` Secrets among `objects`
    /// (the manifests' image pull secrets).
    fn client_with(&self, objects: &[rampart_manifest::Object]) -> anyhow::Result<Client> {
        let mut credentials = match &self.registry_config {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
                Credentials::from_docker_config(&p.display().to_string(), &text)?
            }
            None => Credentials::load_default()?,
        };
        for e in credentials.add_pull_secrets(objects) {
            eprintln!("{e}");
        }
        let ca_pem = match &self.registry_ca {
            Some(p) => Some(std::fs::read(p).with_context(|| format!("{}", p.display()))?),
            None => None,
        };
        Ok(Client::new(ClientOptions {
            insecure: self.allow_insecure_registry,
            ca_pem,
            credentials,
            timeout: Duration::from_secs(self.timeout.max(1)),
        })?)
    }
}

/// Keyless verification (Fulcio certificates, Rekor bundles), offline.
#[derive(Debug, Clone, clap::Args)]
struct KeylessArgs {
    /// The signer's identity (certificate SAN: e-mail or URI), exactly.
    #[arg(
        long,
        value_name = "SAN",
        conflicts_with = "certificate_identity_regexp"
    )]
    certificate_identity: Option<String>,
    /// The signer's identity, as a regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer that vouched for the identity, exactly.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer, as a regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Sigstore's trusted_root.json (Fulcio CAs, Rekor keys) for keyless verification.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// The GitHub workflow trigger the certificate must name (Fulcio extension
    /// 1.3.6.1.4.1.57264.1.2), exactly.
    #[arg(long, value_name = "EVENT")]
    certificate_github_workflow_trigger: Option<String>,
    /// The commit SHA the GitHub workflow ran on (…57264.1.3), exactly.
    #[arg(long, value_name = "SHA")]
    certificate_github_workflow_sha: Option<String>,
    /// The GitHub workflow's name (…57264.1.4), exactly.
    #[arg(long, value_name = "NAME")]
    certificate_github_workflow_name: Option<String>,
    /// The GitHub repository the workflow ran in (…57264.1.5), exactly.
    #[arg(long, value_name = "OWNER/REPO")]
    certificate_github_workflow_repository: Option<String>,
    /// The git ref the GitHub workflow ran on (…57264.1.6), exactly.
    #[arg(long, value_name = "REF")]
    certificate_github_workflow_ref: Option<String>,
}

impl KeylessArgs {
    fn policy(&self) -> anyhow::Result<Option<rampart_images::keyless::KeylessPolicy>> {
        use rampart_images::keyless::{Extension, Identity, KeylessPolicy, Matcher, TrustedRoot};
        let subject = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(s), _) => Some(Matcher::Exact(s.clone())),
            (None, Some(r)) => Some(Matcher::regex(r)?),
            (None, None) => None,
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(s), _) => Some(Matcher::Exact(s.clone())),
            (None, Some(r)) => Some(Matcher::regex(r)?),
            (None, None) => None,
        };
        let (subject, issuer) = match (subject, issuer) {
            (None, None)
                if self.trusted_root.is_none()
                    && [
                        &self.certificate_github_workflow_trigger,
                        &self.certificate_github_workflow_sha,
                        &self.certificate_github_workflow_name,
                        &self.certificate_github_workflow_repository,
                        &self.certificate_github_workflow_ref,
                    ]
                    .iter()
                    .all(|v| v.is_none()) =>
            {
                return Ok(None);
            }
            (Some(s), Some(i)) => (s, i),
            _ => anyhow::bail!(
                "keyless verification needs --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp] and --trusted-root"
            ),
        };
        let Some(path) = &self.trusted_root else {
            anyhow::bail!(
                "keyless verification needs --trusted-root FILE (Sigstore's trusted_root.json); it is done offline"
            );
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let root = TrustedRoot::from_json(&path.display().to_string(), &text)?;
        let extensions = [
            (
                "githubWorkflowTrigger",
                &self.certificate_github_workflow_trigger,
            ),
            ("githubWorkflowSha", &self.certificate_github_workflow_sha),
            ("githubWorkflowName", &self.certificate_github_workflow_name),
            (
                "githubWorkflowRepository",
                &self.certificate_github_workflow_repository,
            ),
            ("githubWorkflowRef", &self.certificate_github_workflow_ref),
        ]
        .into_iter()
        .filter_map(|(key, v)| {
            v.as_ref()
                .map(|v| Extension::new(key, v, Matcher::Exact(v.clone())))
        })
        .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(KeylessPolicy {
            root,
            identities: vec![Identity {
                subject,
                issuer,
                extensions,
            }],
        }))
    }
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List every image of the manifests' containers, init and ephemeral containers: its
    /// normalised reference, where it is used, pinned to a digest or not.
    #[command(after_help = crate::cmd::EXIT_LISTING)]
    List {
        /// Output format: text or json.
        #[arg(long = "format", short = 'o', visible_alias = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        input: super::input::Input,
    },
    /// Rewrite image tags to the digests the registry resolves them to, in the files
    /// themselves (comments and layout kept).
    #[command(after_help = crate::cmd::EXIT_RUN)]
    Pin {
        /// Show the changes as a diff; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        registry: RegistryArgs,
        #[command(flatten)]
        input: super::input::Input,
    },
    /// Verify images' cosign signatures with public keys or keylessly (Fulcio certificate,
    /// Rekor bundle, offline against a trusted root); exit 1 when one does not verify.
    #[command(after_help = crate::cmd::EXIT_ANSWER)]
    Verify {
        /// Images to verify (tags are resolved to digests).
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<String>,
        /// A PEM public key (cosign.pub): ECDSA P-256/P-384, Ed25519 or RSA. Repeatable: any
        /// of them may have signed.
        #[arg(long, value_name = "FILE")]
        key: Vec<PathBuf>,
        #[command(flatten)]
        keyless: KeylessArgs,
        /// Also find signatures attached as OCI 1.1 referrers (`cosign sign
        /// --experimental-oci11`), then the `.sig` tag, as `cosign verify --experimental-oci11`.
        #[arg(long)]
        experimental_oci11: bool,
        /// Verify Notary Project signatures (`notation sign`) instead of cosign's, with these
        /// trusted certificates (PEM: CA roots or the signing certificate; repeatable), as
        /// `notation verify` does with a CA trust store at the strict level.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "experimental_oci11"])]
        notary_cert: Vec<PathBuf>,
        /// Output format: text or json.
        #[arg(long = "format", short = 'o', visible_alias = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Verify a file with a Sigstore bundle (Fulcio certificate, Rekor inclusion promise),
    /// offline against a trusted root, as `cosign verify-blob --bundle` does; exit 1 when it
    /// does not verify.
    #[command(after_help = crate::cmd::EXIT_ANSWER)]
    VerifyBlob {
        /// The file the bundle signs, or whose digest its in-toto statement names.
        #[arg(value_name = "FILE")]
        blob: PathBuf,
        /// The Sigstore bundle (`.sigstore`, `.sigstore.json`).
        #[arg(long, value_name = "FILE")]
        bundle: PathBuf,
        #[command(flatten)]
        keyless: KeylessArgs,
        /// Output format: text or json.
        #[arg(long = "format", short = 'o', visible_alias = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
    },
    /// Verify images' cosign attestations (in-toto statements in DSSE envelopes, tag
    /// `sha256-<hex>.att`) with public keys; exit 1 when one has none that verifies.
    #[command(after_help = crate::cmd::EXIT_ANSWER)]
    VerifyAttestation {
        /// Images whose attestations to verify (tags are resolved to digests).
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<String>,
        /// A PEM public key (repeatable).
        #[arg(long, value_name = "FILE", required = true)]
        key: Vec<PathBuf>,
        /// The predicateType required, e.g. https://slsa.dev/provenance/v1.
        #[arg(long = "type", value_name = "URI")]
        predicate_type: Option<String>,
        /// Output format: text or json.
        #[arg(long = "format", short = 'o', visible_alias = "output", value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing output"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::List { output, input } => list(output, &input),
        Command::Pin {
            dry_run,
            registry,
            input,
        } => pin(dry_run, &registry, &input),
        Command::Verify {
            images,
            notary_cert,
            output,
            registry,
            ..
        } if !notary_cert.is_empty() => verify_notary(&images, &notary_cert, output, &registry),
        Command::Verify {
            images,
            key,
            keyless,
            experimental_oci11,
            output,
            registry,
            ..
        } => verify(
            &images,
            &key,
            &keyless,
            experimental_oci11,
            output,
            &registry,
        ),
        Command::VerifyBlob {
            blob,
            bundle,
            keyless,
            output,
        } => verify_blob(&blob, &bundle, &keyless, output),
        Command::VerifyAttestation {
            images,
            key,
            predicate_type,
            output,
            registry,
        } => {
            let keys = load_keys(&key)?;
            check_images(&images)?;
            let client = registry.client()?;
            let rt = runtime()?;
            let results: Vec<_> = images
                .iter()
                .map(|i| {
                    rt.block_on(rampart_images::verify_attestations(
                        &client,
                        i,
                        &keys,
                        predicate_type.as_deref(),
                    ))
                })
                .collect();
            render(&results, output, "attestation(s)")
        }
    }
}

fn verify_blob(
    blob: &std::path::Path,
    bundle: &std::path::Path,
    keyless: &KeylessArgs,
    output: Format,
) -> anyhow::Result<ExitCode> {
    let Some(policy) = keyless.policy()? else {
        anyhow::bail!(
            "verify-blob needs --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp] and --trusted-root"
        );
    };
    let artifact = std::fs::read(blob).with_context(|| format!("{}", blob.display()))?;
    let text = std::fs::read_to_string(bundle).with_context(|| format!("{}", bundle.display()))?;
    let result = rampart_images::bundle::verify_bundle(
        &policy,
        &bundle.display().to_string(),
        &text,
        &artifact,
    )?;
    let shown = blob.display().to_string();
    let text = match output {
        Format::Json => {
            let v = match &result {
                Ok(v) => serde_json::json!({"file": shown, "verified": true, "bundle": v}),
                Err(why) => serde_json::json!({"file": shown, "verified": false, "reason": why}),
            };
            serde_json::to_string_pretty(&v)? + "\n"
        }
        Format::Text => match &result {
            Ok(v) => format!(
                "{shown}: verified: signed by {} (issuer {}){}, Rekor entry {} logged at {}\n",
                v.identities.join(", "),
                v.issuer,
                v.predicate_type
                    .as_deref()
                    .map(|p| format!(", in-toto statement {p}"))
                    .unwrap_or_default(),
                v.log_index,
                rampart_core::civil::rfc3339(i64::try_from(v.integrated_time).unwrap_or(i64::MAX)),
            ),
            Err(why) => format!("{shown}: not verified: {why}\n"),
        },
    };
    emit(&text)?;
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(output: Format, input: &super::input::Input) -> anyhow::Result<ExitCode> {
    let loaded = input.load()?;
    let mut bad = super::input::report_errors(&loaded.errors);
    let uses = rampart_images::image_uses(&loaded.objects);
    for u in &uses {
        if let Some(e) = u.error() {
            eprintln!("{e}");
            bad = true;
        }
    }
    let text = match output {
        Format::Json => {
            let rows: Vec<UseJson<'_>> = uses.iter().map(use_json).collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        Format::Text => {
            let mut s = String::new();
            for u in &uses {
                let Ok(r) = &u.reference else { continue };
                let l = &u.location;
                s.push_str(&format!(
                    "{}:{}:{}\t{}\t{}/{}\t{} {:?}\t{}\n",
                    l.file,
                    l.line,
                    l.column,
                    r,
                    u.object.kind,
                    qualified(&u.object),
                    u.container_kind,
                    u.container,
                    if r.is_pinned() { "pinned" } else { "unpinned" }
                ));
            }
            s
        }
    };
    emit(&text)?;
    Ok(if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn qualified(o: &rampart_core::ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{ns}/{}", o.name),
        None => o.name.clone(),
    }
}

/// One image use as `images list -o json` prints it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct UseJson<'a> {
    image: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    pointer: &'a str,
    object: &'a rampart_core::ObjectRef,
    container: &'a str,
    container_kind: &'a str,
    pinned: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<ReferenceJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(serde::Serialize)]
struct ReferenceJson<'a> {
    full: String,
    registry: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

fn use_json(u: &ImageUse) -> UseJson<'_> {
    let l = &u.location;
    UseJson {
        image: &u.image,
        file: &l.file,
        line: l.line,
        column: l.column,
        pointer: &l.pointer,
        object: &u.object,
        container: &u.container,
        container_kind: u.container_kind,
        pinned: u.is_pinned(),
        reference: u.reference.as_ref().ok().map(|r| ReferenceJson {
            full: r.to_string(),
            registry: &r.registry,
            repository: &r.repository,
            tag: r.tag.as_deref(),
            digest: r.digest.as_deref(),
        }),
        error: u.reference.as_ref().err().map(ToString::to_string),
    }
}

fn pin(
    dry_run: bool,
    registry: &RegistryArgs,
    input: &super::input::Input,
) -> anyhow::Result<ExitCode> {
    let loaded = input.load()?;
    let mut bad = super::input::report_errors(&loaded.errors);
    let uses = rampart_images::image_uses(&loaded.objects);
    // Files in input order, each read again so the edits apply to the text that was parsed.
    let mut files: Vec<String> = Vec::new();
    for u in &uses {
        if let Some(e) = u.error() {
            eprintln!("{e}");
            bad = true;
        }
        if u.location.template.is_some() {
            eprintln!(
                "{}: {}: rendered from a Helm chart; pin the chart's values instead",
                u.location.file, u.image
            );
            bad = true;
            continue;
        }
        if !u.is_pinned() && u.reference.is_ok() && !files.contains(&u.location.file.to_string()) {
            files.push(u.location.file.to_string());
        }
    }
    if files.iter().any(|f| f == "<stdin>") {
        anyhow::bail!("cannot pin standard input in place; give files");
    }
    let client = registry.client_with(&loaded.objects)?;
    let rt = runtime()?;
    let mut digests: HashMap<String, String> = HashMap::new();
    let mut failed = false;
    let wanted: BTreeMap<&str, &Reference> = uses
        .iter()
        .filter(|u| files.contains(&u.location.file.to_string()) && !u.is_pinned())
        .filter_map(|u| Some((u.image.as_str(), u.reference.as_ref().ok()?)))
        .collect();
    for (image, r) in wanted {
        match rt.block_on(client.resolve_digest(r)) {
            Ok(d) => {
                digests.insert(image.to_string(), d);
            }
            Err(e) => {
                eprintln!("{image}: {e}");
                failed = true;
            }
        }
    }
    let mut changed = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| file.clone())?;
        let reloaded = rampart_manifest::load_str(file, &text);
        let file_uses = rampart_images::image_uses(&reloaded.objects);
        let (edits, errors) = rampart_images::pin_edits(file, &text, &file_uses, &digests);
        for e in &errors {
            eprintln!("{e}");
            failed = true;
        }
        if edits.is_empty() {
            continue;
        }
        let after = rampart_images::apply_edits(&text, &edits);
        changed += edits.len();
        if dry_run {
            emit(&rampart_images::pin::diff(file, &text, &after))?;
        } else {
            std::fs::write(file, after).with_context(|| format!("writing {file}"))?;
            for e in &edits {
                eprintln!("{file}:{}: pinned {} to {}", e.line, e.old, e.new);
            }
        }
    }
    if !dry_run {
        eprintln!("{changed} image reference(s) pinned");
    }
    Ok(if bad {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn verify(
    images: &[String],
    key_files: &[PathBuf],
    keyless: &KeylessArgs,
    oci11: bool,
    output: Format,
    registry: &RegistryArgs,
) -> anyhow::Result<ExitCode> {
    let keyless = keyless.policy()?;
    if key_files.is_empty() && keyless.is_none() {
        anyhow::bail!(
            "give at least one --key FILE (a PEM public key such as cosign.pub), or --certificate-identity, --certificate-oidc-issuer and --trusted-root"
        );
    }
    let keys = load_keys(key_files)?;
    check_images(images)?;
    let policy = rampart_images::Policy { keys, keyless };
    let client = registry.client()?;
    let rt = runtime()?;
    let results: Vec<_> = images
        .iter()
        .map(|i| {
            rt.block_on(async {
                if oci11 {
                    rampart_images::verify_image_annotated(
                        &client,
                        i,
                        &policy,
                        &std::collections::BTreeMap::new(),
                        None,
                        true,
                    )
                    .await
                } else {
                    rampart_images::verify_image_with(&client, i, &policy).await
                }
            })
        })
        .collect();
    render(&results, output, "signature(s)")
}

/// `images verify --notary-cert`: each image's Notary Project signatures, with the
/// certificates of the files as the trust store.
fn verify_notary(
    images: &[String],
    cert_files: &[PathBuf],
    output: Format,
    registry: &RegistryArgs,
) -> anyhow::Result<ExitCode> {
    let mut pem = String::new();
    for f in cert_files {
        pem.push_str(&std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?);
        pem.push('\n');
    }
    rampart_images::notary::TrustStore::from_pem(&pem).map_err(|e| anyhow::anyhow!(e))?;
    check_images(images)?;
    let client = registry.client()?;
    let rt = runtime()?;
    let now = rampart_core::civil::now_secs();
    let results: Vec<_> = images
        .iter()
        .map(|i| rt.block_on(rampart_images::notary::verify_image(&client, i, &pem, now)))
        .collect();
    render(&results, output, "Notary signature(s)")
}

fn load_keys(key_files: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    for f in key_files {
        let pem = std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?;
        keys.push(PublicKey::from_pem(&f.display().to_string(), &pem)?);
    }
    Ok(keys)
}

fn check_images(images: &[String]) -> anyhow::Result<()> {
    for i in images {
        Reference::parse(i).with_context(|| i.clone())?;
    }
    Ok(())
}

/// Prints the verifications; exit 0 when all verified, 1 otherwise.
fn render(
    results: &[rampart_images::Verification],
    output: Format,
    what: &str,
) -> anyhow::Result<ExitCode> {
    let text = match output {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Row<'a> {
                image: &'a str,
                digest: Option<&'a str>,
                verified: bool,
                count: Option<&'a usize>,
                reason: Option<&'a String>,
            }
            let rows: Vec<Row<'_>> = results
                .iter()
                .map(|v| Row {
                    image: &v.image,
                    digest: v.digest.as_deref(),
                    verified: v.ok(),
                    count: v.result.as_ref().ok(),
                    reason: v.result.as_ref().err(),
                })
                .collect();
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        Format::Text => results
            .iter()
            .map(|v| match (&v.result, &v.digest) {
                (Ok(n), Some(d)) => format!("verified {} ({d}): {n} {what}\n", v.image),
                (Ok(n), None) => format!("verified {}: {n} {what}\n", v.image),
                (Err(why), _) => format!("FAILED {}: {why}\n", v.image),
            })
            .collect(),
    };
    emit(&text)?;
    Ok(if results.iter().all(|v| v.ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
