//! The accept loop and one task per appliance session: an [`IngestSession`] driven over QUIC,
//! with staging files, the blob store and the catalog as its adapter.

use crate::{ApplianceStatus, BlobStore, Catalog, NodeStatus, Result, io};
use piste_store::{CHUNK_SIZE, Hash};
use piste_sync::pki::Identity;
use piste_sync::server::{Listener, Peer};
use piste_sync::tls::Credentials;
use piste_sync::{BlobOffer, Have, IngestOutput, IngestSession};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// How to run an archive node.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The data directory: `catalog.redb`, `blobs/`, `staging/`, `status.json`.
    pub data: PathBuf,
    /// Where to listen (port 0 picks one; it is written to `DATA/listen.addr`).
    pub listen: SocketAddr,
    /// This node's name.
    pub name: String,
    /// The fleet CA certificate(s).
    pub ca: PathBuf,
    /// This node's certificate.
    pub cert: PathBuf,
    /// This node's key.
    pub key: PathBuf,
    /// The fleet CRL, reloaded when it changes.
    pub crl: Option<PathBuf>,
}

/// The shared state of an archive node.
pub struct Archive {
    name: String,
    data: PathBuf,
    catalog: Catalog,
    blobs: BlobStore,
    appliances: Mutex<BTreeMap<String, ApplianceStatus>>,
    live: Mutex<HashMap<String, Peer>>,
    listen: Mutex<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Archive {
    /// Opens a node's catalog in `data` with the given blob store.
    pub fn open(name: &str, data: &Path, blobs: BlobStore) -> Result<Archive> {
        let catalog = Catalog::open(data)?;
        let mut appliances = catalog.appliances()?;
        for a in appliances.values_mut() {
            a.connected = false;
        }
        Ok(Archive {
            name: name.to_owned(),
            data: data.to_owned(),
            catalog,
            blobs,
            appliances: Mutex::new(appliances),
            live: Mutex::new(HashMap::new()),
            listen: Mutex::new(String::new()),
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// A snapshot of the node's status.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            name: self.name.clone(),
            listen: self.listen.lock().expect("lock").clone(),
            blobs: self.blobs.describe(),
            assets: self.catalog.len().unwrap_or(0),
            written_ms: now_ms(),
            appliances: self.appliances.lock().expect("lock").clone(),
        }
    }

    fn write_status(&self) -> Result<()> {
        let path = self.data.join("status.json");
        let tmp = self.data.join("status.json.tmp");
        let json = serde_json::to_vec_pretty(&self.status()).expect("status serialises");
        std::fs::write(&tmp, json).map_err(io("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming into", &path))
    }

    fn update(&self, who: &str, f: impl FnOnce(&mut ApplianceStatus)) -> ApplianceStatus {
        let mut all = self.appliances.lock().expect("lock");
        let s = all.entry(who.to_owned()).or_default();
        f(s);
        s.clone()
    }
}

/// Runs an archive node until `shutdown` turns true.
pub async fn serve(
    options: ServeOptions,
    blobs: BlobStore,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let creds = load_creds(&options)?;
    std::fs::create_dir_all(&options.data).map_err(io("creating", &options.data))?;
    let reset_path = options.data.join("reset.key");
    let reset =
        piste_sync::transport::reset_secret(&reset_path).map_err(io("reading", &reset_path))?;
    let listener = Arc::new(Listener::bind(options.listen, &creds, &reset)?);
    let archive = Arc::new(Archive::open(&options.name, &options.data, blobs)?);
    let local = listener
        .local_addr()
        .map_err(io("reading the address of", options.data.clone()))?;
    *archive.listen.lock().expect("lock") = local.to_string();
    std::fs::write(options.data.join("listen.addr"), local.to_string())
        .map_err(io("writing", options.data.join("listen.addr")))?;
    tracing::info!(name = %options.name, %local, blobs = %archive.blobs.describe(), assets = archive.catalog.len().unwrap_or(0), "archive listening");
    archive.write_status()?;

    // Reload the CRL when it changes, so a revocation takes effect without a restart.
    let watcher = {
        let listener = listener.clone();
        let options = options.clone();
        let archive = archive.clone();
        tokio::spawn(async move {
            let mtime = |p: &Option<PathBuf>| {
                p.as_ref()
                    .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            };
            let mut seen = mtime(&options.crl);
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let _ = archive.write_status();
                let now = mtime(&options.crl);
                if now != seen {
                    seen = now;
                    match load_creds(&options).and_then(|c| Ok(listener.reload(&c)?)) {
                        Ok(()) => tracing::info!("certificate revocation list reloaded"),
                        Err(e) => tracing::error!("certificate revocation list not reloaded: {e}"),
                    }
                }
            }
        })
    };

    loop {
        let incoming = tokio::select! {
            i = listener.accept() => match i { Some(i) => i, None => break },
            _ = shutdown.changed() => break,
        };
        let archive = archive.clone();
        tokio::spawn(async move {
            let remote = incoming.remote();
            let peer = match incoming.handshake().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%remote, "refused a connection: {e}");
                    return;
                }
            };
            let Some(Identity::Appliance { venue, box_id }) = peer.identity.clone() else {
                let what = peer
                    .identity
                    .as_ref()
                    .map_or("no piste identity".to_owned(), |i| i.to_string());
                tracing::warn!(%remote, "refused a connection: its certificate names {what}, not an appliance");
                peer.close("certificate names no appliance");
                return;
            };
            let who = Identity::Appliance {
                venue: venue.clone(),
                box_id: box_id.clone(),
            }
            .uri();
            if let Some(old) = archive
                .live
                .lock()
                .expect("lock")
                .insert(who.clone(), peer.clone())
            {
                old.close("superseded by a newer connection from the same appliance");
            }
            archive.update(&who, |s| {
                s.venue = venue.clone();
                s.box_id = box_id.clone();
                s.connected = true;
                s.last_seen_ms = now_ms();
            });
            tracing::info!(%remote, appliance = %who, "appliance connected");
            let result = session(&archive, &peer, &who, &venue).await;
            {
                let mut live = archive.live.lock().expect("lock");
                if live.get(&who).is_some_and(|c| c.id() == peer.id()) {
                    live.remove(&who);
                }
            }
            let status = archive.update(&who, |s| {
                s.connected = false;
                s.last_seen_ms = now_ms();
            });
            let _ = archive.catalog.save_appliance(&who, &status);
            match result {
                Ok(()) => tracing::info!(appliance = %who, "session ended"),
                Err(e) => tracing::warn!(appliance = %who, "session ended: {e}"),
            }
        });
    }
    watcher.abort();
    listener.close("archive shutting down");
    archive.write_status()?;
    Ok(())
}

fn load_creds(o: &ServeOptions) -> Result<Credentials> {
    let crls: Vec<&Path> = o.crl.iter().map(|p| p.as_path()).collect();
    Ok(Credentials::load(&o.ca, &o.cert, &o.key, &crls)?)
}

/// Staged files of one appliance, and the open handles of those being written. Every chunk
/// written here has matched its id, and the ingest session checked at offer time that the ids
/// add up to the file's hash, so a complete staged file needs no second hashing.
struct Staging {
    dir: PathBuf,
    open: HashMap<Hash, std::fs::File>,
}

impl Staging {
    fn path(&self, hash: &Hash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    /// How many leading chunks of a staged file match their ids; the rest is cut off.
    fn verified_chunks(&mut self, offer: &BlobOffer) -> Result<u32> {
        let path = self.path(&offer.hash);
        self.open.remove(&offer.hash);
        let Ok(mut file) = std::fs::File::options().read(true).write(true).open(&path) else {
            return Ok(0);
        };
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut good = 0u32;
        for (i, want) in offer.chunks.iter().enumerate() {
            let len = (offer.size - i as u64 * CHUNK_SIZE as u64).min(CHUNK_SIZE as u64) as usize;
            if file.read_exact(&mut buf[..len]).is_err()
                || piste_store::chunk_id(i, offer.chunks.len(), &buf[..len]) != *want
            {
                break;
            }
            good += 1;
        }
        let keep = (good as u64 * CHUNK_SIZE as u64).min(offer.size);
        file.set_len(keep).map_err(io("truncating", &path))?;
        Ok(good)
    }

    fn write(&mut self, blob: Hash, offset: u64, data: &[u8]) -> Result<()> {
        let path = self.path(&blob);
        let file = match self.open.entry(blob) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(
                std::fs::File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(io("opening", &path))?,
            ),
        };
        file.set_len(offset).map_err(io("truncating", &path))?;
        file.write_all_at(data, offset)
            .map_err(io("writing", &path))
    }

    /// Fsyncs a complete staged file; `Err` if it is not the offered size (it is then
    /// removed and asked for again).
    fn seal(&mut self, offer: &BlobOffer) -> Result<std::result::Result<PathBuf, String>> {
        let path = self.path(&offer.hash);
        let file = match self.open.remove(&offer.hash) {
            Some(f) => f,
            None => std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io("opening", &path))?,
        };
        file.sync_all().map_err(io("syncing", &path))?;
        let len = file.metadata().map_err(io("reading", &path))?.len();
        if len != offer.size {
            let _ = std::fs::remove_file(&path);
            return Ok(Err(format!(
                "staged file is {len} bytes, not {}",
                offer.size
            )));
        }
        Ok(Ok(path))
    }
}

async fn session(
    archive: &Archive,
    peer: &Peer,
    who: &str,
    venue: &str,
) -> std::result::Result<(), String> {
    let (mut reader, mut writer) = peer.accept_stream().await?;
    let mut ingest = IngestSession::new(venue, &archive.name);
    let dir = archive.data.join("staging").join(who.replace(':', "_"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut staging = Staging {
        dir,
        open: HashMap::new(),
    };
    loop {
        let before = reader.bytes_read;
        let read = reader.read().await;
        let delta = reader.bytes_read - before;
        archive.update(who, |s| s.stream_bytes += delta);
        let frame = match read {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        ingest.handle_frame(frame);
        while let Some(out) = ingest.poll_output() {
            match out {
                IngestOutput::Send(f) => writer.write(&f).await.map_err(|e| e.to_string())?,
                IngestOutput::Lookup { asset, blobs } => {
                    let in_catalog = archive.catalog.has(&asset).map_err(|e| e.to_string())?;
                    let mut have = Vec::new();
                    for b in &blobs {
                        have.push(
                            if archive
                                .blobs
                                .has(&b.hash)
                                .await
                                .map_err(|e| e.to_string())?
                            {
                                Have::Stored
                            } else {
                                Have::Staged(staging.verified_chunks(b).map_err(|e| e.to_string())?)
                            },
                        );
                    }
                    ingest.handle_lookup(asset, in_catalog, &have);
                }
                IngestOutput::WriteChunk {
                    blob, offset, data, ..
                } => {
                    staging
                        .write(blob, offset, &data)
                        .map_err(|e| e.to_string())?;
                    archive.update(who, |s| s.bytes_received += data.len() as u64);
                }
                IngestOutput::FinishBlob(offer) => {
                    let sealed = staging.seal(&offer).map_err(|e| e.to_string())?;
                    match sealed {
                        Ok(path) => match archive.blobs.put_staged(&offer.hash, &path).await {
                            Ok(()) => ingest.handle_blob_stored(offer.hash, Ok(())),
                            Err(e) => {
                                return Err(format!("storing file {}: {e}", offer.hash.short()));
                            }
                        },
                        Err(problem) => ingest.handle_blob_stored(offer.hash, Err(problem)),
                    }
                }
                IngestOutput::Commit { asset, bytes, .. } => {
                    let status = archive.update(who, |s| {
                        s.assets_received += 1;
                        s.last_seen_ms = now_ms();
                    });
                    match archive.catalog.commit(&asset, &bytes, who, &status) {
                        Ok(true) => {
                            tracing::info!(appliance = %who, asset = %asset.short(), "asset archived");
                            ingest.handle_committed(asset);
                        }
                        Ok(false) => {
                            archive.update(who, |s| s.assets_received -= 1);
                            ingest.handle_committed(asset);
                        }
                        Err(e) => {
                            archive.update(who, |s| s.assets_received -= 1);
                            tracing::error!(appliance = %who, asset = %asset.short(), "catalog commit failed: {e}");
                            ingest.handle_commit_failed(asset, e.to_string());
                        }
                    }
                }
                IngestOutput::Refused { asset, reason } => {
                    archive.update(who, |s| s.assets_refused += 1);
                    tracing::warn!(appliance = %who, asset = %asset.short(), "refused an asset: {reason}");
                }
                IngestOutput::Backlog(b) => {
                    archive.update(who, |s| {
                        s.backlog_assets = b.assets;
                        s.backlog_bytes = b.bytes;
                        s.last_seen_ms = now_ms();
                    });
                }
                IngestOutput::Closed { code, message } => {
                    tracing::warn!(appliance = %who, ?code, "closing the session: {message}");
                    writer.finish().await;
                    return Err(message);
                }
            }
        }
        let refused = std::mem::take(&mut ingest.chunks_refused);
        if refused > 0 {
            archive.update(who, |s| s.chunks_refused += refused);
        }
    }
}
