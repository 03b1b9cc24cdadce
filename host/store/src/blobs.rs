//! Content-addressed files: written to a temporary name, fsynced, renamed into place and
//! the directory fsynced, so a file under its hash is always whole.

use crate::{Error, Hash, Result};
use blake3::hazmat::HasherExt;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Files are hashed, sent and verified in chunks of this many bytes (the last may be short).
pub const CHUNK_SIZE: usize = 1 << 20;

/// A stored file: its size and the id of each [`CHUNK_SIZE`] chunk (see [`chunk_id`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// The BLAKE3 hash of the whole file.
    pub hash: Hash,
    /// Its size in bytes.
    pub size: u64,
    /// The id of each chunk, in order; [`root_of`] them is `hash`.
    pub chunks: Vec<Hash>,
}

/// The id of chunk `index` of a file of `count` chunks: the BLAKE3 chaining value of the
/// chunk's subtree at its offset, or, for a file of one chunk, the file's hash. Chunk ids are
/// checked one by one as chunks arrive, and [`root_of`] them is the file's BLAKE3 hash, so the
/// whole file is verified without hashing it a second time (the scheme of Bao).
pub fn chunk_id(index: usize, count: usize, data: &[u8]) -> Hash {
    if count <= 1 {
        return Hash::of(data);
    }
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index as u64 * CHUNK_SIZE as u64);
    h.update(data);
    Hash(h.finalize_non_root())
}

/// The id of each [`CHUNK_SIZE`] chunk of `bytes`.
pub fn chunk_hashes(bytes: &[u8]) -> Vec<Hash> {
    let count = bytes.len().div_ceil(CHUNK_SIZE);
    bytes
        .chunks(CHUNK_SIZE)
        .enumerate()
        .map(|(i, c)| chunk_id(i, count, c))
        .collect()
}

/// The file hash that chunk ids add up to: BLAKE3's tree, whose left subtrees always hold
/// the largest power of two of chunks that leaves the right one non-empty.
pub fn root_of(chunks: &[Hash]) -> Hash {
    use blake3::hazmat::{Mode, merge_subtrees_non_root, merge_subtrees_root};
    fn split(n: usize) -> usize {
        1 << (usize::BITS - 1 - (n - 1).leading_zeros())
    }
    fn subtree(chunks: &[Hash]) -> [u8; 32] {
        if chunks.len() == 1 {
            return chunks[0].0;
        }
        let k = split(chunks.len());
        merge_subtrees_non_root(&subtree(&chunks[..k]), &subtree(&chunks[k..]), Mode::Hash)
    }
    match chunks {
        [] => Hash::of(b""),
        [one] => *one,
        _ => {
            let k = split(chunks.len());
            Hash::from(merge_subtrees_root(
                &subtree(&chunks[..k]),
                &subtree(&chunks[k..]),
                Mode::Hash,
            ))
        }
    }
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
        let mut chunks = Vec::new();
        // Chunk 0's id depends on whether a second chunk follows, so its hasher waits.
        let mut first: Option<blake3::Hasher> = None;
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut size = 0u64;
        loop {
            let n = read_full(reader, &mut buf).map_err(Error::io("reading", "input"))?;
            if n == 0 {
                break;
            }
            let mut h = blake3::Hasher::new();
            h.set_input_offset(size);
            h.update(&buf[..n]);
            if size == 0 {
                first = Some(h);
                chunks.push(Hash::default());
            } else {
                chunks.push(Hash(h.finalize_non_root()));
            }
            file.write_all(&buf[..n])
                .map_err(Error::io("writing", &tmp_path))?;
            size += n as u64;
            if n < buf.len() {
                break;
            }
        }
        file.sync_all().map_err(Error::io("syncing", &tmp_path))?;
        drop(file);
        if let Some(h) = first {
            chunks[0] = if chunks.len() == 1 {
                Hash::from(h.finalize())
            } else {
                Hash(h.finalize_non_root())
            };
        }
        let hash = root_of(&chunks);
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
