//! `piste pki`: the fleet CA, appliance enrolment, archive certificates and revocation.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use piste_sync::pki::{self, Ca};
use std::path::PathBuf;
use time::OffsetDateTime;

/// PKI commands.
#[derive(Subcommand)]
pub enum PkiCommand {
    /// Make the fleet CA (ca.crt, ca.key mode 0600, crl.pem) in a new directory.
    Init {
        /// The CA's directory; keep it offline.
        #[arg(long)]
        ca: PathBuf,
        /// The fleet's name, for the CA's subject.
        #[arg(long, default_value = "piste")]
        name: String,
        /// Days the CA is valid.
        #[arg(long, default_value_t = 3650)]
        days: i64,
    },
    /// On the appliance: make its key (never leaves it) and a signing request for the CA.
    Enroll {
        /// The venue this appliance serves.
        #[arg(long)]
        venue: String,
        /// This box's id.
        #[arg(long = "box")]
        box_id: String,
        /// Where to write appliance.key and appliance.csr.
        #[arg(long)]
        out: PathBuf,
    },
    /// At the CA: sign an appliance's request into a client certificate.
    Sign {
        /// The CA's directory.
        #[arg(long)]
        ca: PathBuf,
        /// The appliance's signing request (appliance.csr).
        csr: PathBuf,
        /// Where to write the certificate.
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Refuse the request unless it names this venue.
        #[arg(long)]
        venue: Option<String>,
    },
    /// At the CA: make an archive node's key and server certificate.
    Server {
        /// The CA's directory.
        #[arg(long)]
        ca: PathBuf,
        /// The node's name.
        #[arg(long)]
        name: String,
        /// DNS names and IP addresses appliances will connect to.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Where to write archive.crt, archive.key and a copy of ca.crt and crl.pem.
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// At the CA: revoke a certificate (by serial, or the certificate file) and rewrite crl.pem.
    Revoke {
        /// The CA's directory.
        #[arg(long)]
        ca: PathBuf,
        /// The serial, in hex, as `pki sign` printed it.
        #[arg(long, conflicts_with = "cert")]
        serial: Option<String>,
        /// The certificate to revoke.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
}

fn serial_of(path: &std::path::Path) -> Result<String> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(cert
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Runs a PKI command.
pub fn run(cmd: PkiCommand) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        PkiCommand::Init { ca, name, days } => {
            Ca::init(&ca, &name, days, now)?;
            println!("fleet CA made in {}", ca.display());
            println!("  give ca.crt to every appliance and archive; keep ca.key offline");
        }
        PkiCommand::Enroll { venue, box_id, out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let key_path = out.join("appliance.key");
            if key_path.exists() {
                bail!(
                    "{} exists; this appliance is already enrolled (remove it to enrol again)",
                    key_path.display()
                );
            }
            let (key, csr) = pki::enroll(&venue, &box_id)?;
            pki::write_file(&key_path, &key, true)?;
            pki::write_file(&out.join("appliance.csr"), &csr, false)?;
            println!("key:     {} (stays on this appliance)", key_path.display());
            println!("request: {}", out.join("appliance.csr").display());
            println!(
                "  have the fleet CA sign it: piste pki sign --ca CA_DIR appliance.csr --out appliance.crt"
            );
        }
        PkiCommand::Sign {
            ca,
            csr,
            out,
            days,
            venue,
        } => {
            let ca = Ca::open(&ca)?;
            let request = std::fs::read_to_string(&csr)
                .with_context(|| format!("reading {}", csr.display()))?;
            if let Some(v) = &venue {
                let params = rcgen::CertificateSigningRequestParams::from_pem(&request)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", csr.display()))?;
                let wanted = format!("urn:piste:appliance:{v}:");
                let names_it = params.params.subject_alt_names.iter().any(
                    |s| matches!(s, rcgen::SanType::URI(u) if u.as_str().starts_with(&wanted)),
                );
                if !names_it {
                    bail!(
                        "{} is not for venue {v}; refusing to sign it",
                        csr.display()
                    );
                }
            }
            let issued = ca.sign_request(&request, days, now)?;
            pki::write_file(&out, &issued.cert_pem, false)?;
            println!("signed {} for {}", out.display(), issued.identity);
            println!(
                "  serial {} · valid until {}",
                issued.serial,
                issued.not_after.date()
            );
        }
        PkiCommand::Server {
            ca: ca_dir,
            name,
            hosts,
            out,
            days,
        } => {
            let ca = Ca::open(&ca_dir)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let (issued, key) = ca.server_cert(&name, &hosts, days, now)?;
            pki::write_file(&out.join("archive.crt"), &issued.cert_pem, false)?;
            pki::write_file(&out.join("archive.key"), &key, true)?;
            pki::write_file(&out.join("ca.crt"), ca.cert_pem(), false)?;
            std::fs::copy(ca_dir.join("crl.pem"), out.join("crl.pem"))
                .context("copying crl.pem")?;
            println!(
                "archive {name}: {} (serial {})",
                out.join("archive.crt").display(),
                issued.serial
            );
        }
        PkiCommand::Revoke { ca, serial, cert } => {
            let serial = match (serial, cert) {
                (Some(s), _) => s,
                (None, Some(c)) => serial_of(&c)?,
                (None, None) => bail!("name the certificate: --serial HEX or --cert FILE"),
            };
            Ca::open(&ca)?.revoke(&serial, now)?;
            println!(
                "revoked {serial}; copy {} to every archive's pki directory (they reload it)",
                ca.join("crl.pem").display()
            );
        }
    }
    Ok(())
}
