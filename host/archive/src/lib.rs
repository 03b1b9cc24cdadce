//! The archive node: it accepts sync sessions from many appliances at once, stores their
//! files in a blob store (the local filesystem or S3) and their manifests in a redb catalog,
//! and sends each receipt only once both are durable.
//!
//! What it is not (yet): search. The catalog is the source a search index is built from.
//!
//! **Architecture invariant:** an appliance may write only its own venue's assets; the
//! venue comes from its certificate, never from what it says.
//!
//! Main types: [`Archive`] (the shared state of a node), [`serve`] (the accept loop),
//! [`BlobStore`], [`Catalog`], [`ApplianceStatus`].

mod blobs;
mod catalog;
mod server;

pub use blobs::BlobStore;
pub use catalog::{ApplianceStatus, Catalog, NodeStatus};
pub use server::{Archive, ServeOptions, serve};

use std::path::PathBuf;

/// What can go wrong on an archive node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The catalog failed.
    #[error("catalog {path}: {message}")]
    Catalog {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        message: String,
    },
    /// Another process (a running `piste archive serve`) holds the node's data.
    #[error("{0} is in use by another process (a running `piste archive serve`?)")]
    Busy(PathBuf),
    /// The blob store failed.
    #[error("blob store: {0}")]
    Blobs(String),
    /// TLS or the socket could not be set up.
    #[error(transparent)]
    Transport(#[from] piste_sync::transport::TransportError),
    /// Credentials could not be loaded.
    #[error(transparent)]
    Tls(#[from] piste_sync::tls::TlsError),
}

/// The archive's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
