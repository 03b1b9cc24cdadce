//! The archive's catalog in redb: every asset's manifest, and what each appliance has sent.

use crate::{Error, Result};
use piste_store::Hash;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Asset id → canonical manifest bytes.
const ASSETS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("assets");
/// Appliance identity URI → postcard [`ApplianceStatus`].
const APPLIANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("appliances");

/// What one appliance has done, for `piste archive status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplianceStatus {
    /// Its venue.
    pub venue: String,
    /// Its box id.
    pub box_id: String,
    /// When it was last connected (ms since the Unix epoch).
    pub last_seen_ms: u64,
    /// Whether a session is up now.
    pub connected: bool,
    /// The backlog it last reported: assets per priority class.
    pub backlog_assets: [u64; 3],
    /// The backlog it last reported: bytes per priority class.
    pub backlog_bytes: [u64; 3],
    /// Bytes of files received from it (verified chunks).
    pub bytes_received: u64,
    /// Bytes read off its sync streams: frames, and any frame a lost connection cut short.
    #[serde(default)]
    pub stream_bytes: u64,
    /// Assets committed from it.
    pub assets_received: u64,
    /// Chunks that failed their check and were asked for again.
    pub chunks_refused: u64,
    /// Assets refused (wrong venue, bad manifest).
    pub assets_refused: u64,
}

/// A node's status snapshot: `status.json` in its data directory.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// Where it listens.
    pub listen: String,
    /// Its blob store.
    pub blobs: String,
    /// Assets in the catalog.
    pub assets: u64,
    /// When this snapshot was written (ms since the Unix epoch).
    pub written_ms: u64,
    /// Each appliance, by identity URI.
    pub appliances: std::collections::BTreeMap<String, ApplianceStatus>,
}

/// The catalog.
pub struct Catalog {
    path: PathBuf,
    db: Database,
    /// Held for the catalog's lifetime: one process at a time owns the node's data.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

impl Catalog {
    /// Opens (or creates) `catalog.redb` in `dir`.
    pub fn open(dir: &Path) -> Result<Catalog> {
        std::fs::create_dir_all(dir).map_err(crate::io("creating", dir))?;
        let path = dir.join("catalog.redb");
        let lock_path = dir.join("lock");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(crate::io("opening", &lock_path))?;
        if lock.try_lock().is_err() {
            return Err(Error::Busy(dir.to_owned()));
        }
        let db = Database::create(&path).map_err(|e| Error::Catalog {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let c = Catalog {
            path,
            db,
            _lock: lock,
        };
        let txn = c.write()?;
        txn.open_table(ASSETS).map_err(c.err())?;
        txn.open_table(APPLIANCES).map_err(c.err())?;
        txn.commit().map_err(c.err())?;
        Ok(c)
    }

    fn err<E: std::fmt::Display>(&self) -> impl Fn(E) -> Error + '_ {
        move |e| Error::Catalog {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn write(&self) -> Result<redb::WriteTransaction> {
        let mut txn = self.db.begin_write().map_err(self.err())?;
        txn.set_durability(Durability::Immediate)
            .map_err(self.err())?;
        txn.set_two_phase_commit(true);
        Ok(txn)
    }

    /// Whether the catalog has the asset.
    pub fn has(&self, id: &Hash) -> Result<bool> {
        let txn = self.db.begin_read().map_err(self.err())?;
        Ok(txn
            .open_table(ASSETS)
            .map_err(self.err())?
            .get(id.0)
            .map_err(self.err())?
            .is_some())
    }

    /// An asset's manifest bytes.
    pub fn manifest_bytes(&self, id: &Hash) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let t = txn.open_table(ASSETS).map_err(self.err())?;
        Ok(t.get(id.0).map_err(self.err())?.map(|v| v.value().to_vec()))
    }

    /// Every asset id.
    pub fn ids(&self) -> Result<Vec<Hash>> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let t = txn.open_table(ASSETS).map_err(self.err())?;
        let mut out = Vec::new();
        for e in t.iter().map_err(self.err())? {
            out.push(Hash(e.map_err(self.err())?.0.value()));
        }
        Ok(out)
    }

    /// Records an asset and the appliance's updated status in one durable commit. Returns
    /// false if the asset was already there (a retried upload).
    pub fn commit(
        &self,
        id: &Hash,
        manifest: &[u8],
        appliance: &str,
        status: &ApplianceStatus,
    ) -> Result<bool> {
        let txn = self.write()?;
        let fresh;
        {
            let mut assets = txn.open_table(ASSETS).map_err(self.err())?;
            fresh = assets.get(id.0).map_err(self.err())?.is_none();
            if fresh {
                assets.insert(id.0, manifest).map_err(self.err())?;
            }
            let bytes = postcard::to_stdvec(status).expect("status serialises");
            txn.open_table(APPLIANCES)
                .map_err(self.err())?
                .insert(appliance, bytes.as_slice())
                .map_err(self.err())?;
        }
        txn.commit().map_err(self.err())?;
        Ok(fresh)
    }

    /// Saves an appliance's status (at the end of a session).
    pub fn save_appliance(&self, appliance: &str, status: &ApplianceStatus) -> Result<()> {
        let txn = self.write()?;
        {
            let bytes = postcard::to_stdvec(status).expect("status serialises");
            txn.open_table(APPLIANCES)
                .map_err(self.err())?
                .insert(appliance, bytes.as_slice())
                .map_err(self.err())?;
        }
        txn.commit().map_err(self.err())
    }

    /// Every appliance's saved status, by identity URI.
    pub fn appliances(&self) -> Result<std::collections::BTreeMap<String, ApplianceStatus>> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let t = txn.open_table(APPLIANCES).map_err(self.err())?;
        let mut out = std::collections::BTreeMap::new();
        for e in t.iter().map_err(self.err())? {
            let (k, v) = e.map_err(self.err())?;
            if let Ok(s) = postcard::from_bytes(v.value()) {
                out.insert(k.value().to_owned(), s);
            }
        }
        Ok(out)
    }

    /// How many assets the catalog holds.
    pub fn len(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read().map_err(self.err())?;
        txn.open_table(ASSETS)
            .map_err(self.err())?
            .len()
            .map_err(self.err())
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
