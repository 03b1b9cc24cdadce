//! Where the archive keeps files: the local filesystem by default. Writes are "create if
//! absent", so a retried upload is harmless.

use crate::{Result, io};
use piste_store::Hash;
use std::path::{Path, PathBuf};

/// A blob store.
#[derive(Debug, Clone)]
pub enum BlobStore {
    /// Files under a directory: `ab/abcdef…`.
    Fs {
        /// The directory.
        root: PathBuf,
    },
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

impl BlobStore {
    /// A filesystem store under `root`.
    pub fn fs(root: PathBuf) -> Result<BlobStore> {
        std::fs::create_dir_all(&root).map_err(io("creating", &root))?;
        Ok(BlobStore::Fs { root })
    }

    fn fs_path(root: &Path, hash: &Hash) -> PathBuf {
        let hex = hash.to_string();
        root.join(&hex[..2]).join(hex)
    }

    /// Whether the store holds the file.
    pub async fn has(&self, hash: &Hash) -> Result<bool> {
        match self {
            BlobStore::Fs { root } => Ok(Self::fs_path(root, hash).exists()),
        }
    }

    /// Stores a verified, fsynced staged file under its hash, if absent, durably; the staged
    /// file is consumed.
    pub async fn put_staged(&self, hash: &Hash, staged: &Path) -> Result<()> {
        match self {
            BlobStore::Fs { root } => {
                let dest = Self::fs_path(root, hash);
                let dir = dest.parent().expect("blob paths have a parent");
                std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
                if dest.exists() {
                    std::fs::remove_file(staged).map_err(io("removing", staged))?;
                    return Ok(());
                }
                std::fs::rename(staged, &dest).map_err(io("renaming into", &dest))?;
                sync_dir(dir)
            }
        }
    }

    /// A stored file's bytes.
    pub async fn get(&self, hash: &Hash) -> Result<Vec<u8>> {
        match self {
            BlobStore::Fs { root } => {
                let p = Self::fs_path(root, hash);
                std::fs::read(&p).map_err(io("reading", &p))
            }
        }
    }

    /// Every stored file's hash.
    pub async fn list(&self) -> Result<Vec<Hash>> {
        match self {
            BlobStore::Fs { root } => {
                let mut out = Vec::new();
                for sub in std::fs::read_dir(root)
                    .map_err(io("listing", root))?
                    .flatten()
                {
                    if let Ok(files) = std::fs::read_dir(sub.path()) {
                        out.extend(
                            files.flatten().filter_map(|f| {
                                f.file_name().to_string_lossy().parse::<Hash>().ok()
                            }),
                        );
                    }
                }
                Ok(out)
            }
        }
    }

    /// A description for logs.
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Fs { root } => format!("filesystem {}", root.display()),
        }
    }
}
