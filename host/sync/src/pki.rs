//! The fleet PKI: a private CA, appliance enrolment by signing request (the key never leaves
//! the appliance), server certificates for archive nodes, and revocation by CRL.
//!
//! An identity lives in the certificate's subject alternative name as a URI:
//! `urn:piste:appliance:VENUE:BOX` or `urn:piste:archive:NAME`. Certificates an outside CA
//! made with `openssl` carry the same URI and work the same way.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevokedCertParams, SanType,
    SerialNumber,
};
use std::fmt;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

/// Who a certificate speaks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// An appliance: the venue it serves and its box id.
    Appliance {
        /// The venue, e.g. `cortina`.
        venue: String,
        /// The box, e.g. `box-07`.
        box_id: String,
    },
    /// An archive node.
    Archive {
        /// Its name.
        name: String,
    },
}

impl Identity {
    /// The URI form carried in certificates.
    pub fn uri(&self) -> String {
        match self {
            Identity::Appliance { venue, box_id } => {
                format!("urn:piste:appliance:{venue}:{box_id}")
            }
            Identity::Archive { name } => format!("urn:piste:archive:{name}"),
        }
    }

    /// Parses the URI form.
    pub fn from_uri(uri: &str) -> Option<Identity> {
        let rest = uri.strip_prefix("urn:piste:")?;
        let parts: Vec<&str> = rest.split(':').collect();
        let ok = |s: &&str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        match parts.as_slice() {
            ["appliance", venue, box_id] if ok(venue) && ok(box_id) => Some(Identity::Appliance {
                venue: (*venue).into(),
                box_id: (*box_id).into(),
            }),
            ["archive", name] if ok(name) => Some(Identity::Archive {
                name: (*name).into(),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Appliance { venue, box_id } => {
                write!(f, "appliance {box_id} of venue {venue}")
            }
            Identity::Archive { name } => write!(f, "archive {name}"),
        }
    }
}

/// What can go wrong with keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// rcgen refused or failed.
    #[error("{what}: {source}")]
    Rcgen {
        /// What was being done.
        what: &'static str,
        /// rcgen's error.
        source: rcgen::Error,
    },
    /// A certificate, key or request is not what it should be.
    #[error("{0}")]
    Invalid(String),
}

/// The PKI's result type.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

fn rc(what: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
    move |source| PkiError::Rcgen { what, source }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        action: "reading",
        path: path.into(),
        source,
    })
}

/// Writes a file; keys are created readable by their owner only.
pub fn write_file(path: &Path, contents: &str, secret: bool) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io {
        action: "writing",
        path: path.into(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn random_serial() -> SerialNumber {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    bytes[0] = (bytes[0] & 0x7f) | 0x01; // positive, and no leading zero byte to strip
    SerialNumber::from_slice(&bytes)
}

/// A fleet certificate authority kept in a directory: `ca.crt`, `ca.key`, `issued.tsv`,
/// `revoked.tsv` and the current `crl.pem`.
pub struct Ca {
    dir: PathBuf,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A signed certificate and what it says.
#[derive(Debug, Clone)]
pub struct Issued {
    /// PEM of the certificate.
    pub cert_pem: String,
    /// Who it is for.
    pub identity: Identity,
    /// Its serial number, hex.
    pub serial: String,
    /// When it expires.
    pub not_after: OffsetDateTime,
}

impl Ca {
    /// Makes a new CA in `dir`; refuses to overwrite one.
    pub fn init(dir: &Path, name: &str, days: i64, now: OffsetDateTime) -> Result<Ca> {
        if dir.join("ca.key").exists() {
            return Err(PkiError::Invalid(format!(
                "{} already holds a CA; use another directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            action: "creating",
            path: dir.into(),
            source,
        })?;
        let key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rc("generating the CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} fleet CA"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "piste");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(days);
        params.serial_number = Some(random_serial());
        let cert = params
            .self_signed(&key)
            .map_err(rc("self-signing the CA"))?;
        write_file(&dir.join("ca.key"), &key.serialize_pem(), true)?;
        write_file(&dir.join("ca.crt"), &cert.pem(), false)?;
        write_file(&dir.join("issued.tsv"), "", false)?;
        write_file(&dir.join("revoked.tsv"), "", false)?;
        let ca = Ca::open(dir)?;
        ca.write_crl(now)?;
        Ok(ca)
    }

    /// Opens the CA in `dir`.
    pub fn open(dir: &Path) -> Result<Ca> {
        let cert_pem = read(&dir.join("ca.crt"))?;
        let key = KeyPair::from_pem(&read(&dir.join("ca.key"))?).map_err(rc("reading ca.key"))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(rc("reading ca.crt"))?;
        Ok(Ca {
            dir: dir.to_owned(),
            cert_pem,
            issuer,
        })
    }

    /// The CA certificate, PEM: what appliances and archives trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn record(&self, issued: &Issued) -> Result<()> {
        let mut log = read(&self.dir.join("issued.tsv"))?;
        log.push_str(&format!(
            "{}\t{}\t{}\n",
            issued.serial,
            issued.identity.uri(),
            issued.not_after.unix_timestamp()
        ));
        write_file(&self.dir.join("issued.tsv"), &log, false)
    }

    /// Signs an appliance's request. The request must carry an appliance identity; the CA
    /// decides validity, key usage and serial, whatever the request asks for.
    pub fn sign_request(&self, csr_pem: &str, days: i64, now: OffsetDateTime) -> Result<Issued> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(rc("reading the signing request"))?;
        let identities: Vec<Identity> = csr
            .params
            .subject_alt_names
            .iter()
            .filter_map(|san| match san {
                SanType::URI(uri) => Identity::from_uri(uri.as_str()),
                _ => None,
            })
            .collect();
        let identity = match identities.as_slice() {
            [id @ Identity::Appliance { .. }] => id.clone(),
            _ => {
                return Err(PkiError::Invalid(
                    "the signing request carries no single urn:piste:appliance:VENUE:BOX name; make it with `piste pki enroll`".into(),
                ));
            }
        };
        let serial = random_serial();
        let p = &mut csr.params;
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = now - Duration::minutes(5);
        p.not_after = now + Duration::days(days);
        p.serial_number = Some(serial.clone());
        p.use_authority_key_identifier_extension = true;
        let not_after = p.not_after;
        let cert = csr
            .signed_by(&self.issuer)
            .map_err(rc("signing the request"))?;
        let issued = Issued {
            cert_pem: cert.pem(),
            identity,
            serial: hex(&serial.to_bytes()),
            not_after,
        };
        self.record(&issued)?;
        Ok(issued)
    }

    /// Makes a key and certificate for an archive node, valid for the given DNS names and
    /// IP addresses. Returns (certificate PEM, key PEM).
    pub fn server_cert(
        &self,
        name: &str,
        hosts: &[String],
        days: i64,
        now: OffsetDateTime,
    ) -> Result<(Issued, String)> {
        let identity = Identity::Archive { name: name.into() };
        if Identity::from_uri(&identity.uri()).is_none() {
            return Err(PkiError::Invalid(format!(
                "{name:?} is not a valid archive name (letters, digits, - _ .)"
            )));
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(rc("generating the server key"))?;
        let mut params =
            CertificateParams::new(hosts.to_vec()).map_err(rc("reading the host names"))?;
        params.subject_alt_names.push(SanType::URI(
            identity
                .uri()
                .try_into()
                .map_err(rc("naming the archive"))?,
        ));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(days);
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rc("signing the server certificate"))?;
        let issued = Issued {
            cert_pem: cert.pem(),
            identity,
            serial: hex(&serial.to_bytes()),
            not_after: params.not_after,
        };
        self.record(&issued)?;
        Ok((issued, key.serialize_pem()))
    }

    /// Revokes a certificate by serial (hex) and rewrites `crl.pem`. Returns the CRL PEM.
    pub fn revoke(&self, serial_hex: &str, now: OffsetDateTime) -> Result<String> {
        let serial = serial_hex.trim().to_ascii_lowercase();
        let issued = read(&self.dir.join("issued.tsv"))?;
        if !issued
            .lines()
            .any(|l| l.split('\t').next() == Some(serial.as_str()))
        {
            return Err(PkiError::Invalid(format!(
                "this CA issued no certificate with serial {serial}; see issued.tsv"
            )));
        }
        let mut revoked = read(&self.dir.join("revoked.tsv"))?;
        if !revoked
            .lines()
            .any(|l| l.split('\t').next() == Some(serial.as_str()))
        {
            revoked.push_str(&format!("{serial}\t{}\n", now.unix_timestamp()));
            write_file(&self.dir.join("revoked.tsv"), &revoked, false)?;
        }
        self.write_crl(now)
    }

    /// Signs the current revocation list into `crl.pem` (valid for 30 days).
    pub fn write_crl(&self, now: OffsetDateTime) -> Result<String> {
        let revoked = read(&self.dir.join("revoked.tsv"))?;
        let mut certs = Vec::new();
        for line in revoked.lines().filter(|l| !l.is_empty()) {
            let mut f = line.split('\t');
            let serial = unhex(f.next().unwrap_or_default())
                .ok_or_else(|| PkiError::Invalid(format!("revoked.tsv: bad serial in {line:?}")))?;
            let at = f
                .next()
                .and_then(|t| t.parse::<i64>().ok())
                .unwrap_or(now.unix_timestamp());
            certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: OffsetDateTime::from_unix_timestamp(at).unwrap_or(now),
                reason_code: None,
                invalidity_date: None,
            });
        }
        let number = now.unix_timestamp().max(1) as u64;
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(rc("signing the CRL"))?;
        let pem = crl.pem().map_err(rc("encoding the CRL"))?;
        write_file(&self.dir.join("crl.pem"), &pem, false)?;
        Ok(pem)
    }
}

/// An appliance's enrolment: a fresh key (which stays on the appliance) and a signing request
/// naming it. Returns (key PEM, request PEM).
pub fn enroll(venue: &str, box_id: &str) -> Result<(String, String)> {
    let identity = Identity::Appliance {
        venue: venue.into(),
        box_id: box_id.into(),
    };
    if Identity::from_uri(&identity.uri()).as_ref() != Some(&identity) {
        return Err(PkiError::Invalid(format!(
            "venue {venue:?} and box {box_id:?} may hold only letters, digits, - _ and ."
        )));
    }
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(rc("generating the appliance key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, box_id);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, venue);
    params.subject_alt_names = vec![SanType::URI(
        identity
            .uri()
            .try_into()
            .map_err(rc("naming the appliance"))?,
    )];
    let csr = params
        .serialize_request(&key)
        .map_err(rc("making the signing request"))?;
    Ok((
        key.serialize_pem(),
        csr.pem().map_err(rc("encoding the signing request"))?,
    ))
}

/// The identity a DER certificate carries, and when it expires (Unix seconds).
pub fn identity_of(cert_der: &[u8]) -> Result<(Identity, i64)> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| PkiError::Invalid(format!("certificate does not parse: {e}")))?;
    let not_after = cert.validity().not_after.timestamp();
    let san = cert.subject_alternative_name().map_err(|e| {
        PkiError::Invalid(format!(
            "certificate's subject alternative name does not parse: {e}"
        ))
    })?;
    let ids: Vec<Identity> = san
        .into_iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|n| match n {
            GeneralName::URI(uri) => Identity::from_uri(uri),
            _ => None,
        })
        .collect();
    match ids.as_slice() {
        [id] => Ok((id.clone(), not_after)),
        [] => Err(PkiError::Invalid(
            "certificate names no urn:piste: identity".into(),
        )),
        _ => Err(PkiError::Invalid(
            "certificate names more than one urn:piste: identity".into(),
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
