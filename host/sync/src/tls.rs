//! TLS for the sync transport: credentials from PEM files, mutual TLS against the fleet CA
//! with CRLs, TLS 1.3 only, one ALPN, and no early data.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// The ALPN protocol id of sync version 1.
pub const ALPN: &[u8] = b"piste-sync/1";

/// A node's trust anchors, its own certificate chain and key, and (on the archive) CRLs.
#[derive(Debug)]
pub struct Credentials {
    /// The fleet CA certificates this node trusts.
    pub roots: Vec<CertificateDer<'static>>,
    /// This node's certificate, then any intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// This node's private key.
    pub key: PrivateKeyDer<'static>,
    /// Revocation lists to check peers against.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

/// Credentials or a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("{path}: {problem}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Rustls(String),
}

fn pem_err(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + '_ {
    move |e| TlsError::File {
        path: path.display().to_string(),
        problem: e.to_string(),
    }
}

impl Credentials {
    /// Loads `ca` (one or more CA certificates), `cert` (a chain), `key`, and optional CRLs.
    pub fn load(
        ca: &Path,
        cert: &Path,
        key: &Path,
        crls: &[&Path],
    ) -> Result<Credentials, TlsError> {
        let certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, TlsError> {
            let v = CertificateDer::pem_file_iter(p)
                .map_err(pem_err(p))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(pem_err(p))?;
            if v.is_empty() {
                return Err(TlsError::File {
                    path: p.display().to_string(),
                    problem: "holds no certificate".into(),
                });
            }
            Ok(v)
        };
        let mut lists = Vec::new();
        for p in crls {
            lists.extend(
                CertificateRevocationListDer::pem_file_iter(p)
                    .map_err(pem_err(p))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(pem_err(p))?,
            );
        }
        Ok(Credentials {
            roots: certs(ca)?,
            chain: certs(cert)?,
            key: PrivateKeyDer::from_pem_file(key).map_err(pem_err(key))?,
            crls: lists,
        })
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in &self.roots {
            roots
                .add(c.clone())
                .map_err(|e| TlsError::Rustls(format!("fleet CA certificate: {e}")))?;
        }
        Ok(roots)
    }
}

/// Makes ring the process's default TLS provider. Libraries that build their own rustls
/// configurations (the S3 client's HTTPS) need one, and a build holding both ring and
/// aws-lc-rs has no default until one is chosen. Calling it twice is harmless.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The archive's TLS: client certificates required, chained to the fleet CA, not revoked,
/// not expired; early data refused.
pub fn server_config(creds: &Credentials) -> Result<ServerConfig, TlsError> {
    let err = |e: rustls::Error| TlsError::Rustls(e.to_string());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(creds.root_store()?), provider())
            .with_crls(creds.crls.clone())
            .build()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(creds.chain.clone(), creds.key.clone_key())
        .map_err(err)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    // Early data could be replayed; nothing in this protocol is safe to replay.
    config.max_early_data_size = 0;
    Ok(config)
}

/// The appliance's TLS: the archive must chain to the fleet CA; this appliance presents its
/// certificate; no early data.
pub fn client_config(creds: &Credentials) -> Result<ClientConfig, TlsError> {
    let err = |e: rustls::Error| TlsError::Rustls(e.to_string());
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(err)?
        .with_root_certificates(creds.root_store()?)
        .with_client_auth_cert(creds.chain.clone(), creds.key.clone_key())
        .map_err(err)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.enable_early_data = false;
    Ok(config)
}
