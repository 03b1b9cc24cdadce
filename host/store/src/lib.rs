//! Durable storage on the appliance: asset manifests, content-addressed media files, the
//! catalog and the outbox that sync drains.
//!
//! What it is not: it knows no network and no archive. Sync reads pending assets from the
//! [`Store`] and calls [`Store::mark_archived`] when the archive's receipt names an asset.
//!
//! **Architecture invariant:** nothing is acknowledged before it is durable. A file is
//! written to a temporary name, fsynced, renamed and its directory fsynced before the
//! catalog row that names it commits; every catalog commit is `Durability::Immediate` with
//! two-phase commit. An unsynced asset is never dropped without an explicit
//! [`Store::drop_unsynced`].
//!
//! Main types: [`Store`], [`Manifest`] (what an asset is), [`Hash`] (BLAKE3 content
//! address), [`Priority`] (sync order), [`BlobInfo`] (a file's size and chunk hashes).

mod blobs;
mod hash;
mod manifest;
mod store;

pub use blobs::{BlobInfo, CHUNK_SIZE, chunk_hashes, chunk_id, root_of};
pub use hash::{Hash, ParseHashError};
pub use manifest::{Caption, Manifest, ManifestError, Priority, Rendition, Route, Tag};
pub use store::{AssetSummary, Damage, OutboxState, Store, StoreOptions, Usage, VerifyReport};

use std::path::PathBuf;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. "writing".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The catalog database could not be opened, read or written.
    #[error("catalog {path}: {message}")]
    Catalog {
        /// The database file.
        path: PathBuf,
        /// redb's error, as text.
        message: String,
    },
    /// Another process holds the catalog (a running `piste sync run`, say).
    #[error("catalog {0} is open in another process; stop it or ask it through its control socket")]
    Busy(PathBuf),
    /// A manifest names a file the store does not hold.
    #[error("rendition {name:?} names blob {hash}, which is not in the store; add the file first")]
    MissingBlob {
        /// The rendition's name.
        name: String,
        /// The missing content hash.
        hash: Hash,
    },
    /// A manifest could not be decoded or is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// No asset has this id.
    #[error("no asset {0} in the store")]
    UnknownAsset(Hash),
    /// Adding the asset would exceed the disk quota, and only unsynced assets are left to drop.
    #[error(
        "disk quota of {quota} bytes is full: {unsynced} bytes are waiting for the archive and \
         {needed} more are needed; let sync catch up, raise the quota, or drop an unsynced \
         asset with `piste store drop --unsynced`"
    )]
    QuotaFull {
        /// The configured quota in bytes.
        quota: u64,
        /// Bytes held by assets the archive has not acknowledged.
        unsynced: u64,
        /// Bytes the new asset needs beyond what is free.
        needed: u64,
    },
    /// An operator asked to drop an unsynced asset without confirming it.
    #[error("asset {0} has not reached the archive; dropping it loses it, confirm with --force")]
    Unconfirmed(Hash),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
