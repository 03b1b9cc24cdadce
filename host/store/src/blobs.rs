//! Content-addressed files: written to a temporary name, fsynced, renamed into place and
//! the directory fsynced, so a file under its hash is always whole.

use crate::{Error, Hash, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Files are hashed, sent and verified in chunks of this many bytes (the last may be short).
pub const CHUNK_SIZE: usize = 1 << 20;

/// A stored file: its size and the hash of each [`CHUNK_SIZE`] chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// The BLAKE3 hash of the whole file.
    pub hash: Hash,
    /// Its size in bytes.
    pub size: u64,
    /// The hash of each chunk, in order.
    pub chunks: Vec<Hash>,
}

/// The hash of each [`CHUNK_SIZE`] chunk of `bytes`.
pub fn chunk_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes.chunks(CHUNK_SIZE).map(Hash::of).collect()
}

/// The directory of content-addressed files: `ab/abcdef…` under `root`.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub(crate) fn open(root: PathBuf) -> Result<BlobDir> {
        fs::create_dir_all(root.join("tmp")).map_err(Error::io("creating", &root))?;
        Ok(BlobDir { root })
    }

    pub(crate) fn path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_string();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Copies `reader` into the store, hashing as it goes; returns what it wrote.
    pub(crate) fn write(&self, reader: &mut dyn Read) -> Result<BlobInfo> {
        let tmp = tempfile_in(&self.root.join("tmp"))?;
        let (mut file, tmp_path) = tmp;
        let mut whole = blake3::Hasher::new();
        let mut chunks = Vec::new();
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut size = 0u64;
        loop {
            let n = read_full(reader, &mut buf).map_err(Error::io("reading", "input"))?;
            if n == 0 {
                break;
            }
            whole.update(&buf[..n]);
            chunks.push(Hash::of(&buf[..n]));
            file.write_all(&buf[..n])
                .map_err(Error::io("writing", &tmp_path))?;
            size += n as u64;
            if n < buf.len() {
                break;
            }
        }
        file.sync_all().map_err(Error::io("syncing", &tmp_path))?;
        drop(file);
        let hash = Hash::from(whole.finalize());
        let dest = self.path(&hash);
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
        fs::rename(&tmp_path, &dest).map_err(Error::io("renaming into", &dest))?;
        sync_dir(dir)?;
        Ok(BlobInfo { hash, size, chunks })
    }

    /// Re-hashes a stored file; `None` if it is missing.
    pub(crate) fn rehash(&self, hash: &Hash) -> Result<Option<(Hash, u64)>> {
        let path = self.path(hash);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &path)(e)),
        };
        let mut hasher = blake3::Hasher::new();
        let size = std::io::copy(&mut file, &mut hasher).map_err(Error::io("reading", &path))?;
        Ok(Some((hasher.finalize().into(), size)))
    }

    pub(crate) fn remove(&self, hash: &Hash) -> Result<()> {
        let path = self.path(hash);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().expect("blob paths have a parent")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &path)(e)),
        }
    }

    /// Every file under its hash, for the orphan sweep at open.
    pub(crate) fn list(&self) -> Result<Vec<Hash>> {
        let mut out = Vec::new();
        let entries = fs::read_dir(&self.root).map_err(Error::io("listing", &self.root))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.len() != 2 {
                continue;
            }
            let sub = entry.path();
            for file in fs::read_dir(&sub)
                .map_err(Error::io("listing", &sub))?
                .flatten()
            {
                if let Ok(h) = file.file_name().to_string_lossy().parse() {
                    out.push(h);
                }
            }
        }
        Ok(out)
    }

    /// Removes temporary files a crash left behind.
    pub(crate) fn clear_tmp(&self) -> Result<()> {
        let tmp = self.root.join("tmp");
        for entry in fs::read_dir(&tmp)
            .map_err(Error::io("listing", &tmp))?
            .flatten()
        {
            let _ = fs::remove_file(entry.path());
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn tempfile_in(dir: &Path) -> Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(Error::io("creating", &path))?;
    Ok((file, path))
}

/// Fsyncs a directory so a rename or removal in it survives power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("syncing directory", dir))
}
