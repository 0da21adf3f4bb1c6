//! `rampart certs`: a CA and a serving certificate for the webhook Service, and its caBundle.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write ca.crt, tls.crt and tls.key into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// The webhook Service's name.
    #[arg(long, default_value = "rampart")]
    service: String,
    /// The webhook Service's namespace.
    #[arg(long, default_value = "rampart-system")]
    namespace: String,
    /// Validity of the serving certificate, in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Extra DNS names for the serving certificate.
    #[arg(long = "dns")]
    dns: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut names = rampart_server::service_dns_names(&args.service, &args.namespace);
    names.extend(args.dns.iter().cloned());
    let certs =
        rampart_server::generate_certs(&names, args.days).context("generating certificates")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let write = |name: &str, text: &str, secret: bool| -> anyhow::Result<()> {
        let path = args.out.join(name);
        write_file(&path, text.as_bytes(), secret)
            .with_context(|| format!("writing {}", path.display()))
    };
    write("ca.crt", &certs.ca_pem, false)?;
    write("tls.crt", &certs.cert_pem, false)?;
    write("tls.key", &certs.key_pem, true)?;
    eprintln!(
        "wrote {0}/ca.crt, {0}/tls.crt, {0}/tls.key for {1}; caBundle on stdout",
        args.out.display(),
        names.join(", ")
    );
    println!("{}", certs.ca_bundle());
    Ok(ExitCode::SUCCESS)
}

fn write_file(path: &std::path::Path, data: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path)?;
    f.write_all(data)
}
