//! Where the archive keeps files: the local filesystem by default, or S3-compatible object
//! storage through `object_store`. Writes are "create if absent", so a retried upload is
//! harmless.

use crate::{Error, Result, io};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use piste_store::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files up to this size go up in one request with "create if absent"; larger ones go up
/// in parts (S3 has no conditional multipart create), after a check that they are absent:
/// the bytes under a hash are always the same, so a race only writes them twice.
const SINGLE_PUT_MAX: u64 = 64 << 20;
const PART: usize = 16 << 20;

/// A blob store.
#[derive(Debug, Clone)]
pub enum BlobStore {
    /// Files under a directory: `ab/abcdef…`.
    Fs {
        /// The directory.
        root: PathBuf,
    },
    /// Objects `PREFIX/blobs/ab/abcdef…` in an S3 bucket.
    S3 {
        /// The bucket client.
        store: Arc<dyn ObjectStore>,
        /// The key prefix, without a trailing slash (may be empty).
        prefix: String,
        /// The URL, for logs.
        url: String,
    },
}

fn s3_err(e: object_store::Error) -> Error {
    Error::Blobs(e.to_string())
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

    /// An S3 store at `url` (`s3://bucket[/prefix]`); endpoint, region and credentials come
    /// from the usual `AWS_*` environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).
    pub fn s3(url: &str) -> Result<BlobStore> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| Error::Blobs(format!("{url:?} is not an s3://bucket[/prefix] URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder.build().map_err(s3_err)?;
        Ok(BlobStore::S3 {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
        })
    }

    fn key(prefix: &str, hash: &Hash) -> ObjectPath {
        let hex = hash.to_string();
        let key = format!("blobs/{}/{hex}", &hex[..2]);
        ObjectPath::from(if prefix.is_empty() {
            key
        } else {
            format!("{prefix}/{key}")
        })
    }

    fn fs_path(root: &Path, hash: &Hash) -> PathBuf {
        let hex = hash.to_string();
        root.join(&hex[..2]).join(hex)
    }

    /// Whether the store holds the file.
    pub async fn has(&self, hash: &Hash) -> Result<bool> {
        match self {
            BlobStore::Fs { root } => Ok(Self::fs_path(root, hash).exists()),
            BlobStore::S3 { store, prefix, .. } => match store.head(&Self::key(prefix, hash)).await
            {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(s3_err(e)),
            },
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
            BlobStore::S3 { store, prefix, .. } => {
                let key = Self::key(prefix, hash);
                let size = std::fs::metadata(staged)
                    .map_err(io("reading", staged))?
                    .len();
                if size <= SINGLE_PUT_MAX {
                    let bytes = std::fs::read(staged).map_err(io("reading", staged))?;
                    let options = PutOptions::from(PutMode::Create);
                    match store.put_opts(&key, PutPayload::from(bytes), options).await {
                        Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
                        Err(e) => return Err(s3_err(e)),
                    }
                } else if !self.has(hash).await? {
                    use std::io::Read;
                    let mut upload = object_store::WriteMultipart::new_with_chunk_size(
                        store.put_multipart(&key).await.map_err(s3_err)?,
                        PART,
                    );
                    let mut file = std::fs::File::open(staged).map_err(io("opening", staged))?;
                    let mut buf = vec![0u8; PART];
                    loop {
                        let n = file.read(&mut buf).map_err(io("reading", staged))?;
                        if n == 0 {
                            break;
                        }
                        upload.wait_for_capacity(2).await.map_err(s3_err)?;
                        upload.write(&buf[..n]);
                    }
                    upload.finish().await.map_err(s3_err)?;
                }
                std::fs::remove_file(staged).map_err(io("removing", staged))
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
            BlobStore::S3 { store, prefix, .. } => {
                let got = store.get(&Self::key(prefix, hash)).await.map_err(s3_err)?;
                Ok(got.bytes().await.map_err(s3_err)?.to_vec())
            }
        }
    }

    /// A description for logs.
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Fs { root } => format!("filesystem {}", root.display()),
            BlobStore::S3 { url, .. } => url.clone(),
        }
    }
}
