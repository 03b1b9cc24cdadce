//! The catalog and outbox in redb, and the operations that keep them and the files in step.

use crate::blobs::{BlobDir, BlobInfo, sync_dir};
use crate::{Error, Hash, Manifest, Priority, Result};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Asset id → canonical manifest bytes.
const ASSETS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("assets");
/// Blob hash → postcard [`BlobRow`].
const BLOBS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blobs");
/// Asset id → (state, priority, sequence, archived at ms).
const OUTBOX: TableDefinition<[u8; 32], (u8, u8, u64, u64)> = TableDefinition::new("outbox");
/// (priority, sequence) → asset id, for pending assets: the sync order.
const QUEUE: TableDefinition<(u8, u64), [u8; 32]> = TableDefinition::new("queue");
/// (archived at ms, sequence) → asset id: the eviction order.
const ARCHIVED: TableDefinition<(u64, u64), [u8; 32]> = TableDefinition::new("archived");
/// Counters.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const PENDING: u8 = 0;
const DONE: u8 = 1;

#[derive(Serialize, Deserialize)]
struct BlobRow {
    size: u64,
    chunks: Vec<Hash>,
    refs: u32,
}

/// How the store is run.
#[derive(Clone, Debug, Default)]
pub struct StoreOptions {
    /// The most bytes of files the store keeps; archived assets are evicted, oldest first,
    /// to stay under it. `None` means no quota.
    pub quota_bytes: Option<u64>,
}

/// Where an asset is in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboxState {
    /// Waiting for the archive's receipt.
    Pending,
    /// The archive's receipt named it, at this time (ms since the Unix epoch).
    Archived {
        /// When the receipt came.
        at_ms: u64,
    },
}

/// One line of `piste store ls`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssetSummary {
    /// The asset's id.
    pub id: Hash,
    /// Its venue.
    pub venue: String,
    /// Its event.
    pub event: String,
    /// Its sync class.
    pub priority: Priority,
    /// Bytes of its renditions.
    pub size: u64,
    /// How many renditions it has.
    pub renditions: usize,
    /// Where it is in the outbox.
    pub state: OutboxState,
}

/// What the store holds, and what is waiting for the archive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Bytes of all stored files.
    pub bytes: u64,
    /// The quota, if any.
    pub quota_bytes: Option<u64>,
    /// Assets stored.
    pub assets: u64,
    /// Pending assets per priority class, most urgent first.
    pub pending_assets: [u64; 3],
    /// Pending bytes per priority class (a file shared by two assets counts twice).
    pub pending_bytes: [u64; 3],
}

/// Something `verify` found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Damage {
    /// A file the catalog names is gone.
    MissingFile {
        /// Its hash.
        hash: Hash,
        /// The assets that name it.
        assets: Vec<Hash>,
    },
    /// A file's bytes no longer hash to its name.
    CorruptFile {
        /// The hash it should have.
        hash: Hash,
        /// The hash it has.
        actual: Hash,
        /// The assets that name it.
        assets: Vec<Hash>,
    },
    /// A manifest's bytes no longer hash to its id, or no longer decode.
    CorruptManifest {
        /// The asset.
        id: Hash,
    },
}

/// The result of `verify`: everything re-hashed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Manifests checked.
    pub assets: u64,
    /// Files re-hashed.
    pub files: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// What is damaged; empty when all is well.
    pub damage: Vec<Damage>,
}

/// The appliance's durable store: catalog, outbox and files, under one directory.
pub struct Store {
    dir: PathBuf,
    db_path: PathBuf,
    db: Database,
    blobs: BlobDir,
    options: StoreOptions,
    /// Held for the store's lifetime: one process at a time owns the store.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`: `catalog.redb` and `blobs/`. Removes files that
    /// a crash left without a catalog row.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(Error::io("creating", dir))?;
        let db_path = dir.join("catalog.redb");
        let lock = lock_dir(dir).map_err(|e| match e {
            Some(e) => e,
            None => Error::Busy(db_path.clone()),
        })?;
        let db = Database::create(&db_path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Busy(db_path.clone()),
            e => Error::Catalog {
                path: db_path.clone(),
                message: e.to_string(),
            },
        })?;
        let blobs = BlobDir::open(dir.join("blobs"))?;
        let store = Store {
            dir: dir.to_owned(),
            db_path,
            db,
            blobs,
            options,
            _lock: lock,
        };
        store.init_tables()?;
        store.sweep_orphans()?;
        Ok(store)
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn catalog<E: std::fmt::Display>(&self) -> impl Fn(E) -> Error + '_ {
        move |e| Error::Catalog {
            path: self.db_path.clone(),
            message: e.to_string(),
        }
    }

    fn write_txn(&self) -> Result<redb::WriteTransaction> {
        let mut txn = self.db.begin_write().map_err(self.catalog())?;
        txn.set_durability(Durability::Immediate)
            .map_err(self.catalog())?;
        txn.set_two_phase_commit(true);
        Ok(txn)
    }

    fn init_tables(&self) -> Result<()> {
        let txn = self.write_txn()?;
        {
            txn.open_table(ASSETS).map_err(self.catalog())?;
            txn.open_table(BLOBS).map_err(self.catalog())?;
            txn.open_table(OUTBOX).map_err(self.catalog())?;
            txn.open_table(QUEUE).map_err(self.catalog())?;
            txn.open_table(ARCHIVED).map_err(self.catalog())?;
            txn.open_table(META).map_err(self.catalog())?;
        }
        txn.commit().map_err(self.catalog())
    }

    fn sweep_orphans(&self) -> Result<()> {
        self.blobs.clear_tmp()?;
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let rows = txn.open_table(BLOBS).map_err(self.catalog())?;
        for hash in self.blobs.list()? {
            if rows.get(hash.0).map_err(self.catalog())?.is_none() {
                tracing::info!(blob = %hash.short(), "removing a file no asset names (left by an interrupted add)");
                self.blobs.remove(&hash)?;
            }
        }
        Ok(())
    }

    /// Copies a file into the store under its hash. It belongs to no asset until
    /// [`Store::add`] names it; until then a restart removes it.
    pub fn put_file(&self, path: &Path) -> Result<BlobInfo> {
        let mut file = std::fs::File::open(path).map_err(Error::io("opening", path))?;
        self.blobs.write(&mut file)
    }

    /// Copies bytes into the store under their hash, as [`Store::put_file`].
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<BlobInfo> {
        self.blobs.write(&mut &bytes[..])
    }

    /// Where a stored file lives.
    pub fn blob_path(&self, hash: &Hash) -> PathBuf {
        self.blobs.path(hash)
    }

    /// Records an asset and queues it for the archive, durably, in one commit. Every
    /// rendition must name a file in `blobs` or already in the store. Returns its id.
    /// Archived assets are evicted first if the quota needs room; unsynced ones never are.
    pub fn add(&self, manifest: &Manifest, blobs: &[BlobInfo]) -> Result<Hash> {
        manifest.validate()?;
        let bytes = manifest.to_bytes();
        let id = Hash::of(&bytes);
        let fresh: BTreeMap<Hash, &BlobInfo> = blobs.iter().map(|b| (b.hash, b)).collect();
        let txn = self.write_txn()?;
        let mut freed = Vec::new();
        {
            let mut assets = txn.open_table(ASSETS).map_err(self.catalog())?;
            if assets.get(id.0).map_err(self.catalog())?.is_some() {
                return Ok(id);
            }
            let mut rows = txn.open_table(BLOBS).map_err(self.catalog())?;
            let mut new_bytes = 0u64;
            let mut seen = BTreeSet::new();
            for r in &manifest.renditions {
                if !seen.insert(r.hash) {
                    continue;
                }
                let existing = rows
                    .get(r.hash.0)
                    .map_err(self.catalog())?
                    .map(|v| decode_row(v.value()));
                let mut row = match (existing, fresh.get(&r.hash)) {
                    (Some(row), _) => row,
                    (None, Some(info)) => {
                        new_bytes += info.size;
                        BlobRow {
                            size: info.size,
                            chunks: info.chunks.clone(),
                            refs: 0,
                        }
                    }
                    (None, None) => {
                        return Err(Error::MissingBlob {
                            name: r.name.clone(),
                            hash: r.hash,
                        });
                    }
                };
                if row.size != r.size {
                    return Err(crate::ManifestError::Invalid {
                        field: "renditions",
                        problem: format!(
                            "{:?} says {} bytes, the file has {}",
                            r.name, r.size, row.size
                        ),
                    }
                    .into());
                }
                row.refs += 1;
                rows.insert(
                    r.hash.0,
                    postcard::to_stdvec(&row)
                        .expect("rows serialise")
                        .as_slice(),
                )
                .map_err(self.catalog())?;
            }
            if let Some(quota) = self.options.quota_bytes {
                let used = total_bytes(&rows).map_err(self.catalog())? - new_bytes;
                if used + new_bytes > quota {
                    freed = self.evict(&txn, &mut assets, &mut rows, used + new_bytes - quota)?;
                    let used = total_bytes(&rows).map_err(self.catalog())?;
                    if used > quota {
                        let unsynced = used - new_bytes;
                        drop((assets, rows));
                        txn.abort().map_err(self.catalog())?;
                        for b in blobs {
                            if !self.has_blob(&b.hash)? {
                                self.blobs.remove(&b.hash)?;
                            }
                        }
                        return Err(Error::QuotaFull {
                            quota,
                            unsynced,
                            needed: used - quota,
                        });
                    }
                }
            }
            assets
                .insert(id.0, bytes.as_slice())
                .map_err(self.catalog())?;
            let mut meta = txn.open_table(META).map_err(self.catalog())?;
            let seq = meta
                .get("seq")
                .map_err(self.catalog())?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            meta.insert("seq", seq).map_err(self.catalog())?;
            let p = manifest.priority as u8;
            txn.open_table(OUTBOX)
                .map_err(self.catalog())?
                .insert(id.0, (PENDING, p, seq, 0))
                .map_err(self.catalog())?;
            txn.open_table(QUEUE)
                .map_err(self.catalog())?
                .insert((p, seq), id.0)
                .map_err(self.catalog())?;
        }
        txn.commit().map_err(self.catalog())?;
        for h in freed {
            self.blobs.remove(&h)?;
        }
        sync_dir(&self.dir)?;
        Ok(id)
    }

    /// Drops archived assets, oldest receipt first, until `need` bytes are free. Returns the
    /// files no asset names any more, to delete after the commit.
    fn evict(
        &self,
        txn: &redb::WriteTransaction,
        assets: &mut redb::Table<[u8; 32], &[u8]>,
        rows: &mut redb::Table<[u8; 32], &[u8]>,
        need: u64,
    ) -> Result<Vec<Hash>> {
        let mut archived = txn.open_table(ARCHIVED).map_err(self.catalog())?;
        let mut outbox = txn.open_table(OUTBOX).map_err(self.catalog())?;
        let mut freed = Vec::new();
        let mut got = 0u64;
        while got < need {
            let Some(id) = archived
                .pop_first()
                .map_err(self.catalog())?
                .map(|(_, v)| v.value())
            else {
                break;
            };
            let manifest = assets
                .remove(id)
                .map_err(self.catalog())?
                .map(|v| v.value().to_vec());
            outbox.remove(id).map_err(self.catalog())?;
            let Some(bytes) = manifest else { continue };
            let Ok(m) = Manifest::from_bytes(&bytes) else {
                continue;
            };
            tracing::info!(asset = %Hash(id).short(), "evicting an archived asset to stay under the disk quota");
            for (h, size) in self.release(rows, &m)? {
                got += size;
                freed.push(h);
            }
        }
        Ok(freed)
    }

    /// Takes one reference off each file a manifest names; returns the files (and sizes) no
    /// asset names any more, whose rows are gone, to delete after the commit.
    fn release(
        &self,
        rows: &mut redb::Table<[u8; 32], &[u8]>,
        manifest: &Manifest,
    ) -> Result<Vec<(Hash, u64)>> {
        let mut freed = Vec::new();
        let unique: BTreeSet<Hash> = manifest.renditions.iter().map(|r| r.hash).collect();
        for h in unique {
            let Some(mut row) = rows
                .get(h.0)
                .map_err(self.catalog())?
                .map(|v| decode_row(v.value()))
            else {
                continue;
            };
            row.refs = row.refs.saturating_sub(1);
            if row.refs == 0 {
                rows.remove(h.0).map_err(self.catalog())?;
                freed.push((h, row.size));
            } else {
                rows.insert(
                    h.0,
                    postcard::to_stdvec(&row)
                        .expect("rows serialise")
                        .as_slice(),
                )
                .map_err(self.catalog())?;
            }
        }
        Ok(freed)
    }

    fn has_blob(&self, hash: &Hash) -> Result<bool> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let rows = txn.open_table(BLOBS).map_err(self.catalog())?;
        Ok(rows.get(hash.0).map_err(self.catalog())?.is_some())
    }

    /// A stored file's size and chunk hashes.
    pub fn blob_info(&self, hash: &Hash) -> Result<Option<BlobInfo>> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let rows = txn.open_table(BLOBS).map_err(self.catalog())?;
        Ok(rows.get(hash.0).map_err(self.catalog())?.map(|v| {
            let row = decode_row(v.value());
            BlobInfo {
                hash: *hash,
                size: row.size,
                chunks: row.chunks,
            }
        }))
    }

    /// An asset's canonical manifest bytes.
    pub fn manifest_bytes(&self, id: &Hash) -> Result<Vec<u8>> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let assets = txn.open_table(ASSETS).map_err(self.catalog())?;
        let v = assets
            .get(id.0)
            .map_err(self.catalog())?
            .ok_or(Error::UnknownAsset(*id))?;
        Ok(v.value().to_vec())
    }

    /// An asset's manifest.
    pub fn manifest(&self, id: &Hash) -> Result<Manifest> {
        Ok(Manifest::from_bytes(&self.manifest_bytes(id)?)?)
    }

    /// Where an asset is in the outbox.
    pub fn state(&self, id: &Hash) -> Result<OutboxState> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let outbox = txn.open_table(OUTBOX).map_err(self.catalog())?;
        let (state, _, _, at_ms) = outbox
            .get(id.0)
            .map_err(self.catalog())?
            .ok_or(Error::UnknownAsset(*id))?
            .value();
        Ok(to_state(state, at_ms))
    }

    /// Up to `limit` pending assets in sync order: by priority, then oldest first.
    pub fn pending(&self, limit: usize) -> Result<Vec<(Hash, Priority)>> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let queue = txn.open_table(QUEUE).map_err(self.catalog())?;
        let mut out = Vec::new();
        for entry in queue.iter().map_err(self.catalog())?.take(limit) {
            let (k, v) = entry.map_err(self.catalog())?;
            let p = Priority::from_u8(k.value().0).unwrap_or(Priority::Bulk);
            out.push((Hash(v.value()), p));
        }
        Ok(out)
    }

    /// Records the archive's receipt for `id`, durably. Returns false if it was not pending.
    pub fn mark_archived(&self, id: &Hash, now_ms: u64) -> Result<bool> {
        Ok(self.mark_archived_all(std::slice::from_ref(id), now_ms)? == 1)
    }

    /// Records receipts for several assets in one durable commit (receipts that arrive
    /// together cost one fsync). Returns how many were pending.
    pub fn mark_archived_all(&self, ids: &[Hash], now_ms: u64) -> Result<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let txn = self.write_txn()?;
        let mut marked = 0;
        {
            let mut outbox = txn.open_table(OUTBOX).map_err(self.catalog())?;
            let mut queue = txn.open_table(QUEUE).map_err(self.catalog())?;
            let mut archived = txn.open_table(ARCHIVED).map_err(self.catalog())?;
            for id in ids {
                let entry = outbox.get(id.0).map_err(self.catalog())?.map(|v| v.value());
                let Some((PENDING, p, seq, _)) = entry else {
                    continue;
                };
                outbox
                    .insert(id.0, (DONE, p, seq, now_ms))
                    .map_err(self.catalog())?;
                queue.remove((p, seq)).map_err(self.catalog())?;
                archived
                    .insert((now_ms, seq), id.0)
                    .map_err(self.catalog())?;
                marked += 1;
            }
        }
        if marked == 0 {
            txn.abort().map_err(self.catalog())?;
            return Ok(0);
        }
        txn.commit().map_err(self.catalog())?;
        Ok(marked)
    }

    /// Every asset, oldest first.
    pub fn list(&self) -> Result<Vec<AssetSummary>> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let assets = txn.open_table(ASSETS).map_err(self.catalog())?;
        let outbox = txn.open_table(OUTBOX).map_err(self.catalog())?;
        let mut out = Vec::new();
        for entry in assets.iter().map_err(self.catalog())? {
            let (k, v) = entry.map_err(self.catalog())?;
            let id = Hash(k.value());
            let Some((state, _, seq, at_ms)) =
                outbox.get(id.0).map_err(self.catalog())?.map(|v| v.value())
            else {
                continue;
            };
            let Ok(m) = Manifest::from_bytes(v.value()) else {
                continue;
            };
            out.push((
                seq,
                AssetSummary {
                    id,
                    venue: m.venue.clone(),
                    event: m.event.clone(),
                    priority: m.priority,
                    size: m.size(),
                    renditions: m.renditions.len(),
                    state: to_state(state, at_ms),
                },
            ));
        }
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }

    /// What the store holds and what waits for the archive.
    pub fn usage(&self) -> Result<Usage> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let rows = txn.open_table(BLOBS).map_err(self.catalog())?;
        let assets = txn.open_table(ASSETS).map_err(self.catalog())?;
        let queue = txn.open_table(QUEUE).map_err(self.catalog())?;
        let mut usage = Usage {
            bytes: total_bytes(&rows).map_err(self.catalog())?,
            quota_bytes: self.options.quota_bytes,
            assets: assets.len().map_err(self.catalog())?,
            ..Usage::default()
        };
        for entry in queue.iter().map_err(self.catalog())? {
            let (k, v) = entry.map_err(self.catalog())?;
            let p = (k.value().0 as usize).min(2);
            usage.pending_assets[p] += 1;
            if let Some(m) = assets
                .get(v.value())
                .map_err(self.catalog())?
                .and_then(|b| Manifest::from_bytes(b.value()).ok())
            {
                usage.pending_bytes[p] += m.size();
            }
        }
        Ok(usage)
    }

    /// Re-hashes every manifest and every file, and reports what is damaged.
    pub fn verify(&self) -> Result<VerifyReport> {
        let txn = self.db.begin_read().map_err(self.catalog())?;
        let assets = txn.open_table(ASSETS).map_err(self.catalog())?;
        let rows = txn.open_table(BLOBS).map_err(self.catalog())?;
        let mut report = VerifyReport::default();
        let mut users: BTreeMap<Hash, Vec<Hash>> = BTreeMap::new();
        for entry in assets.iter().map_err(self.catalog())? {
            let (k, v) = entry.map_err(self.catalog())?;
            let id = Hash(k.value());
            report.assets += 1;
            match Manifest::from_bytes(v.value()) {
                Ok(m) if Hash::of(v.value()) == id => {
                    for r in m.renditions {
                        users.entry(r.hash).or_default().push(id);
                    }
                }
                _ => report.damage.push(Damage::CorruptManifest { id }),
            }
        }
        for entry in rows.iter().map_err(self.catalog())? {
            let (k, v) = entry.map_err(self.catalog())?;
            let hash = Hash(k.value());
            let row = decode_row(v.value());
            let assets = users.get(&hash).cloned().unwrap_or_default();
            report.files += 1;
            match self.blobs.rehash(&hash)? {
                None => report.damage.push(Damage::MissingFile { hash, assets }),
                Some((actual, size)) => {
                    report.bytes += size;
                    if actual != hash || size != row.size {
                        report.damage.push(Damage::CorruptFile {
                            hash,
                            actual,
                            assets,
                        });
                    }
                }
            }
        }
        Ok(report)
    }

    /// Drops an asset that has not reached the archive. It is lost for good, so this needs
    /// `force`, and it says so loudly in the log.
    pub fn drop_unsynced(&self, id: &Hash, force: bool) -> Result<()> {
        let state = self.state(id)?;
        if state == OutboxState::Pending && !force {
            return Err(Error::Unconfirmed(*id));
        }
        let manifest = self.manifest(id)?;
        if state == OutboxState::Pending {
            tracing::warn!(asset = %id, venue = %manifest.venue, event = %manifest.event, bytes = manifest.size(),
                "DROPPING AN ASSET THE ARCHIVE NEVER RECEIVED, by operator command; it is lost");
        }
        let txn = self.write_txn()?;
        let freed: Vec<Hash>;
        {
            let mut outbox = txn.open_table(OUTBOX).map_err(self.catalog())?;
            if let Some((st, p, seq, at)) = outbox
                .remove(id.0)
                .map_err(self.catalog())?
                .map(|v| v.value())
            {
                if st == PENDING {
                    txn.open_table(QUEUE)
                        .map_err(self.catalog())?
                        .remove((p, seq))
                        .map_err(self.catalog())?;
                } else {
                    txn.open_table(ARCHIVED)
                        .map_err(self.catalog())?
                        .remove((at, seq))
                        .map_err(self.catalog())?;
                }
            }
            txn.open_table(ASSETS)
                .map_err(self.catalog())?
                .remove(id.0)
                .map_err(self.catalog())?;
            let mut rows = txn.open_table(BLOBS).map_err(self.catalog())?;
            freed = self
                .release(&mut rows, &manifest)?
                .into_iter()
                .map(|(h, _)| h)
                .collect();
        }
        txn.commit().map_err(self.catalog())?;
        for h in freed {
            self.blobs.remove(&h)?;
        }
        Ok(())
    }
}

/// Takes the directory's lock file; `Err(None)` if another process holds it.
pub(crate) fn lock_dir(dir: &Path) -> std::result::Result<std::fs::File, Option<Error>> {
    let path = dir.join("lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Some(Error::io("opening", &path)(e)))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Some(Error::io("locking", &path)(e))),
    }
}

fn decode_row(bytes: &[u8]) -> BlobRow {
    // Rows are written only by this module; a row that fails to decode is reported by
    // `verify` as a missing file rather than crashing every reader.
    postcard::from_bytes(bytes).unwrap_or(BlobRow {
        size: u64::MAX,
        chunks: Vec::new(),
        refs: 1,
    })
}

fn total_bytes(
    rows: &impl ReadableTable<[u8; 32], &'static [u8]>,
) -> Result<u64, redb::StorageError> {
    let mut total = 0u64;
    for entry in rows.iter()? {
        let (_, v) = entry?;
        total = total.saturating_add(decode_row(v.value()).size);
    }
    Ok(total)
}

fn to_state(state: u8, at_ms: u64) -> OutboxState {
    if state == PENDING {
        OutboxState::Pending
    } else {
        OutboxState::Archived { at_ms }
    }
}
