//! Module signatures in the WebAssembly tool-conventions format (as `wasmsign2` writes them):
//! publisher keys, the trust store, signing and verification.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use wasmsign2::{KeyPair, PublicKey, PublicKeySet, SecretKey, WSError};

use crate::error::{Error, Result};

/// A publisher's Ed25519 key pair, as written by `piste keys generate` or `wasmsign2 keygen`.
pub struct PublisherKey {
    pair: KeyPair,
}

impl PublisherKey {
    /// Makes a new random key pair.
    pub fn generate() -> Self {
        PublisherKey {
            pair: KeyPair::generate(),
        }
    }

    /// Reads a secret key file (wasmsign2 raw, PEM, DER or OpenSSH format).
    pub fn from_secret_file(path: &Path) -> Result<Self> {
        let sk = SecretKey::from_any_file(path).map_err(|e| key_error(path, e))?;
        let pk = public_from_secret(&sk).map_err(|e| key_error(path, e))?;
        Ok(PublisherKey {
            pair: KeyPair { pk, sk },
        })
    }

    /// Writes the secret key (mode 0600) and the public key, in wasmsign2's format.
    pub fn write(&self, secret: &Path, public: &Path) -> Result<()> {
        self.pair
            .sk
            .to_file(secret)
            .map_err(|e| key_error(secret, e))?;
        restrict_permissions(secret)?;
        self.pair
            .pk
            .to_file(public)
            .map_err(|e| key_error(public, e))
    }

    /// The public half, for a trust store.
    pub fn public(&self) -> &PublicKey {
        &self.pair.pk
    }

    /// The fingerprint of the public half (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.pair.pk)
    }

    /// Signs a module: returns the module with a signature section in front.
    /// A module that already carries a signature gets an additional one.
    pub fn sign(&self, module_name: &str, wasm: &[u8]) -> Result<Vec<u8>> {
        let module = wasmsign2::Module::deserialize(&mut Cursor::new(wasm)).map_err(|e| {
            Error::NotAComponent {
                module: module_name.to_string(),
                reason: e.to_string(),
            }
        })?;
        let signed = self
            .pair
            .sk
            .sign(module, None)
            .map_err(|e| Error::Signature {
                module: module_name.to_string(),
                reason: e.to_string(),
            })?;
        let mut out = Vec::with_capacity(wasm.len() + 256);
        signed.serialize(&mut out).map_err(|e| Error::Signature {
            module: module_name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(out)
    }
}

/// A short, stable name for a public key: the first 16 hex digits of the BLAKE3 hash of its bytes.
pub fn fingerprint(pk: &PublicKey) -> String {
    let hash = blake3::hash(&pk.to_bytes());
    hash.to_hex()[..16].to_string()
}

/// The publisher keys whose signatures the appliance accepts.
#[derive(Clone)]
pub struct TrustStore {
    keys: PublicKeySet,
}

impl Default for TrustStore {
    fn default() -> Self {
        Self::empty()
    }
}

impl TrustStore {
    /// A store that trusts nobody: every module is refused.
    pub fn empty() -> Self {
        TrustStore {
            keys: PublicKeySet::empty(),
        }
    }

    /// Adds one public key.
    pub fn add(&mut self, pk: PublicKey) {
        // A duplicate key is already trusted; nothing to add.
        let _ = self.keys.insert(pk);
    }

    /// Reads trusted keys from a file or a directory of files. A file may hold a
    /// wasmsign2 public key (raw, PEM or DER) or OpenSSH Ed25519 public keys, one a line
    /// (an `authorized_keys`-style list). Lines of other key types are skipped.
    pub fn load(path: &Path) -> Result<Self> {
        let mut store = TrustStore::empty();
        store.add_path(path)?;
        Ok(store)
    }

    /// Adds the keys in a file or directory (see [`TrustStore::load`]).
    pub fn add_path(&mut self, path: &Path) -> Result<()> {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| io_error(path, e))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_public_key_name(p))
                .collect();
            files.sort();
            for file in files {
                self.add_file(&file)?;
            }
            if self.is_empty() {
                return Err(Error::Key {
                    path: path.to_path_buf(),
                    reason: "no public key files (*.pub) in this directory".into(),
                });
            }
            Ok(())
        } else {
            self.add_file(path)
        }
    }

    fn add_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        if let Ok(pk) = PublicKey::from_any(&bytes) {
            self.add(pk);
            return Ok(());
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut found = 0;
        for line in text.lines().map(str::trim) {
            if line.starts_with("ssh-ed25519 ") {
                let pk = PublicKey::from_openssh(line).map_err(|e| key_error(path, e))?;
                self.add(pk);
                found += 1;
            }
        }
        if found == 0 {
            return Err(Error::Key {
                path: path.to_path_buf(),
                reason: "not an Ed25519 public key (expected a wasmsign2 key or `ssh-ed25519 ...` lines)"
                    .into(),
            });
        }
        Ok(())
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a module's embedded signature against the trusted keys and returns the
    /// fingerprints of the keys that signed it. Nothing is parsed or compiled before this.
    pub fn verify(&self, module_name: &str, wasm: &[u8]) -> Result<Vec<String>> {
        if !has_signature_section(wasm) {
            return Err(Error::Unsigned {
                module: module_name.to_string(),
            });
        }
        if self.keys.is_empty() {
            return Err(Error::Signature {
                module: module_name.to_string(),
                reason: "the trust store holds no publisher key".into(),
            });
        }
        match self.keys.verify(&mut Cursor::new(wasm), None) {
            Ok(signers) => {
                let mut names: Vec<String> = signers.into_iter().map(fingerprint).collect();
                names.sort();
                Ok(names)
            }
            Err(WSError::NoSignatures) => Err(Error::Unsigned { module: module_name.to_string() }),
            Err(WSError::VerificationFailed) => Err(Error::Signature {
                module: module_name.to_string(),
                reason: "no trusted publisher key signed these exact bytes (an unknown publisher, or the module was changed after signing)".into(),
            }),
            Err(e) => Err(Error::Signature {
                module: module_name.to_string(),
                reason: format!("unreadable signature ({e})"),
            }),
        }
    }
}

/// Which signers, if any, a module's signature section names, without checking trust.
/// For `piste module inspect`.
pub fn signer_count(wasm: &[u8]) -> usize {
    wasmsign2::signature_info_from_reader(&mut Cursor::new(wasm), None)
        .map(|info| info.signature_count())
        .unwrap_or(0)
}

fn has_signature_section(wasm: &[u8]) -> bool {
    let Ok(module) = wasmsign2::Module::deserialize(&mut Cursor::new(wasm)) else {
        // Let the verifier report unreadable bytes as a failed signature.
        return true;
    };
    module.sections.iter().any(|s| match s {
        wasmsign2::Section::Custom(c) => c.is_signature_header(),
        _ => false,
    })
}

fn is_public_key_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".pub") || name == "authorized_keys" || name.ends_with(".pk")
}

fn public_from_secret(sk: &SecretKey) -> Result<PublicKey, WSError> {
    // An Ed25519 secret key in wasmsign2's encoding carries its public half in the last 32 bytes.
    let bytes = sk.to_bytes();
    let raw = &bytes[bytes.len() - 32..];
    let mut with_type = Vec::with_capacity(33);
    with_type.push(0x01);
    with_type.extend_from_slice(raw);
    PublicKey::from_bytes(&with_type)
}

fn restrict_permissions(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error(path, e))?;
    }
    Ok(())
}

fn key_error(path: &Path, e: WSError) -> Error {
    Error::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Trusted keys as a plain set, for callers that want to list them.
pub fn fingerprints(store: &TrustStore) -> HashSet<String> {
    store.keys.items().iter().map(fingerprint).collect()
}
