//! The appliance's sync loop: connects to the archive, drives an [`EdgeSession`] over QUIC
//! from the store's outbox, marks receipts, and reconnects with backoff.

use crate::edge::{EdgeConfig, EdgeEvent, EdgeSession, Transmit};
use crate::pki::Identity;
use crate::transport::{FrameReader, FrameWriter, TransportError, explain};
use crate::wire::{Backlog, BlobOffer, ErrorCode, Frame, Offer, encode_chunk_header};
use piste_store::{Hash, Store};
use quinn::Endpoint;
use std::collections::BTreeSet;
use std::io::{Read, Seek};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// Where and how to sync.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The archive's address.
    pub archive: SocketAddr,
    /// The name the archive's certificate must carry (DNS name or IP).
    pub server_name: String,
    /// Session behaviour: rate cap, offers in flight.
    pub session: EdgeConfig,
    /// Stop once the outbox is empty (`piste sync run --once`), instead of waiting for more.
    pub until_empty: bool,
    /// The first wait before reconnecting; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest wait before reconnecting.
    pub max_backoff: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub give_up_after: Option<u32>,
}

/// What the loop reports while it runs: `piste sync status` prints it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ClientStatus {
    /// Whether a session is up.
    pub connected: bool,
    /// The archive node's name, once welcomed.
    pub archive: Option<String>,
    /// Sessions started.
    pub sessions: u64,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// When the last receipt came (ms since the Unix epoch).
    pub last_receipt_ms: Option<u64>,
    /// Assets archived by this process.
    pub archived: u64,
    /// Payload bytes of chunks sent by this process.
    pub chunk_bytes_sent: u64,
    /// Send rate over the last few seconds, bytes per second.
    pub rate_bps: f64,
    /// Assets the archive refused, with its reasons; they stay in the outbox.
    pub refused: Vec<(Hash, String)>,
}

/// A sync loop failure that retrying will not fix.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] piste_store::Error),
    /// The archive refused the session for good (version mismatch, forbidden).
    #[error("archive refused the session: {0}")]
    Refused(String),
    /// Every attempt failed.
    #[error("gave up after {attempts} failed attempts; the last: {last}")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        last: String,
    },
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn backlog(store: &Store) -> Result<Backlog, piste_store::Error> {
    let u = store.usage()?;
    Ok(Backlog {
        assets: u.pending_assets,
        bytes: u.pending_bytes,
    })
}

/// The offer for a stored asset: its manifest and each file's chunk hashes.
pub fn offer_for(store: &Store, id: &Hash) -> Result<Offer, piste_store::Error> {
    let manifest = store.manifest_bytes(id)?;
    let m = piste_store::Manifest::from_bytes(&manifest)?;
    let mut blobs: Vec<BlobOffer> = Vec::new();
    for r in &m.renditions {
        if blobs.iter().any(|b| b.hash == r.hash) {
            continue;
        }
        let info = store
            .blob_info(&r.hash)?
            .ok_or(piste_store::Error::MissingBlob {
                name: r.name.clone(),
                hash: r.hash,
            })?;
        blobs.push(BlobOffer {
            hash: info.hash,
            size: info.size,
            chunks: info.chunks,
        });
    }
    Ok(Offer {
        asset: *id,
        priority: m.priority,
        manifest,
        blobs,
    })
}

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How one session ended.
enum SessionEnd {
    /// The outbox is empty and `until_empty` was asked for.
    Drained,
    /// The connection failed; try again.
    Retry(String),
}

/// Runs the sync loop until `shutdown` turns true or, with `until_empty`, the outbox drains.
pub async fn run(
    store: Arc<Store>,
    endpoint: Endpoint,
    options: ClientOptions,
    status: Arc<Mutex<ClientStatus>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ClientError> {
    let mut backoff = options.min_backoff;
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        status.lock().expect("status lock").sessions += 1;
        let end = tokio::select! {
            end = session(&store, &endpoint, &options, &status) => end?,
            _ = shutdown.changed() => return Ok(()),
        };
        let was_up = std::mem::replace(&mut status.lock().expect("status lock").connected, false);
        match end {
            SessionEnd::Drained => return Ok(()),
            SessionEnd::Retry(why) => {
                if was_up {
                    // The archive was reachable: a fresh failure, not a run of them.
                    backoff = options.min_backoff;
                    failures = 0;
                }
                failures += 1;
                if options.give_up_after.is_some_and(|n| failures >= n) {
                    return Err(ClientError::GaveUp {
                        attempts: failures,
                        last: why,
                    });
                }
                tracing::warn!(archive = %options.archive, retry_in = ?backoff, "sync session ended: {why}");
                status.lock().expect("status lock").last_error = Some(why);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    }
}

async fn session(
    store: &Store,
    endpoint: &Endpoint,
    options: &ClientOptions,
    status: &Mutex<ClientStatus>,
) -> Result<SessionEnd, ClientError> {
    let retry = |e: TransportError| Ok(SessionEnd::Retry(e.to_string()));
    let connecting = match endpoint.connect(options.archive, &options.server_name) {
        Ok(c) => c,
        Err(e) => {
            return Ok(SessionEnd::Retry(format!(
                "cannot connect to {}: {e}",
                options.archive
            )));
        }
    };
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => {
            return Ok(SessionEnd::Retry(format!(
                "no answer from {} within {CONNECT_TIMEOUT:?}",
                options.archive
            )));
        }
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Ok(SessionEnd::Retry(format!(
                "connecting to {}: {}",
                options.archive,
                explain(&e)
            )));
        }
    };
    if let Some(id) = crate::transport::peer_identity(&conn)
        && !matches!(id, Identity::Archive { .. })
    {
        return Ok(SessionEnd::Retry(format!(
            "{} presented the certificate of {id}, not of an archive",
            options.archive
        )));
    }
    let (send, recv) = match conn.open_bi().await {
        Ok(s) => s,
        Err(e) => return Ok(SessionEnd::Retry(explain(&e))),
    };
    let mut writer = FrameWriter::new(send);
    let (tx, mut rx) = mpsc::channel::<Result<Option<Frame>, TransportError>>(64);
    let reader_task = tokio::spawn(async move {
        let mut reader = FrameReader::new(recv);
        loop {
            let r = reader.read().await;
            let end = !matches!(r, Ok(Some(_)));
            if tx.send(r).await.is_err() || end {
                break;
            }
        }
    });
    let _reader_guard = AbortOnDrop(reader_task);

    let mut edge = EdgeSession::new(options.session.clone(), backlog(store)?, Instant::now());
    let mut backlog_at = Instant::now();
    let mut refused: BTreeSet<Hash> = BTreeSet::new();
    let mut rate_window = (Instant::now(), 0u64);
    let mut open_files: std::collections::HashMap<Hash, std::fs::File> =
        std::collections::HashMap::new();
    loop {
        if let Some(end) = edge_events(&mut edge, store, status, &mut refused)? {
            return ended(end);
        }
        // Keep the pipeline of offers full, most urgent first.
        if edge.wants_offers() > 0 {
            for (id, _) in store.pending(edge.wants_offers() + edge.in_flight() + refused.len())? {
                if edge.wants_offers() == 0 {
                    break;
                }
                if !edge.is_offered(&id) && !refused.contains(&id) {
                    edge.offer(offer_for(store, &id)?);
                }
            }
        }
        // The backlog walks the whole outbox; it is reported every few seconds, so a
        // refresh a second is plenty.
        if backlog_at.elapsed() >= Duration::from_secs(1) {
            edge.set_backlog(backlog(store)?);
            backlog_at = Instant::now();
        }
        // Send what the rate cap allows.
        while let Some(t) = edge.poll_transmit(Instant::now()) {
            let sent = match t {
                Transmit::Frame(f) => writer.write(&f).await,
                Transmit::Chunk {
                    blob,
                    index,
                    offset,
                    len,
                } => {
                    // A fresh buffer per chunk: it goes to quinn as it is, without a copy
                    // (and without zeroing it first: read_to_end fills spare capacity).
                    let path = store.blob_path(&blob);
                    let io = |source| piste_store::Error::Io {
                        action: "reading",
                        path: path.clone(),
                        source,
                    };
                    if !open_files.contains_key(&blob) {
                        open_files.clear(); // one file at a time is being sent
                        open_files.insert(blob, std::fs::File::open(&path).map_err(io)?);
                    }
                    let mut file = &open_files[&blob];
                    let mut chunk_buf = Vec::with_capacity(len);
                    file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
                    file.take(len as u64)
                        .read_to_end(&mut chunk_buf)
                        .map_err(io)?;
                    if chunk_buf.len() != len {
                        let short = std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the stored file is shorter than its record",
                        );
                        return Err(io(short).into());
                    }
                    rate_window.1 += len as u64;
                    writer
                        .write_chunk(&encode_chunk_header(&blob, index, len), chunk_buf)
                        .await
                }
            };
            if let Err(e) = sent {
                return retry(e);
            }
            // Let frames from the archive in between chunks.
            if let Ok(r) = rx.try_recv() {
                match r {
                    Ok(Some(f)) => edge.handle_frame(f, Instant::now()),
                    Ok(None) => return Ok(SessionEnd::Retry("archive closed the stream".into())),
                    Err(e) => return retry(e),
                }
            }
            if let Some(end) = edge_events(&mut edge, store, status, &mut refused)? {
                return ended(end);
            }
        }
        {
            let mut s = status.lock().expect("status lock");
            s.chunk_bytes_sent = edge.chunk_bytes_sent;
            let dt = rate_window.0.elapsed().as_secs_f64();
            if dt >= 1.0 {
                s.rate_bps = rate_window.1 as f64 / dt;
                rate_window = (Instant::now(), 0);
            }
        }
        if options.until_empty
            && edge.in_flight() == 0
            && store
                .pending(refused.len() + 1)?
                .iter()
                .all(|(id, _)| refused.contains(id))
        {
            // Leave the archive an up-to-date backlog for its status page.
            let _ = writer
                .write(&Frame::Status {
                    backlog: backlog(store)?,
                })
                .await;
            writer.finish().await;
            conn.close(0u32.into(), b"done");
            return Ok(SessionEnd::Drained);
        }
        let wake = edge
            .poll_timeout(Instant::now())
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(250));
        let wake = wake.min(Instant::now() + Duration::from_millis(250));
        tokio::select! {
            r = rx.recv() => {
                // Take every frame already here, so receipts that came together are
                // marked together.
                let mut next = Some(r);
                let mut taken = 0;
                while let Some(r) = next.take() {
                    match r {
                        Some(Ok(Some(f))) => edge.handle_frame(f, Instant::now()),
                        Some(Ok(None)) | None => return Ok(SessionEnd::Retry("archive closed the stream".into())),
                        Some(Err(e)) => return retry(e),
                    }
                    taken += 1;
                    if taken < 256 {
                        next = rx.try_recv().ok().map(Some);
                    }
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
        }
    }
}

/// Retrying cannot fix a version mismatch or a refusal; anything else may pass.
fn ended((code, reason): (ErrorCode, String)) -> Result<SessionEnd, ClientError> {
    match code {
        ErrorCode::VersionMismatch | ErrorCode::Forbidden => Err(ClientError::Refused(reason)),
        _ => Ok(SessionEnd::Retry(reason)),
    }
}

/// Acts on the session's events; returns how the session ended, once it has.
fn edge_events(
    edge: &mut EdgeSession,
    store: &Store,
    status: &Mutex<ClientStatus>,
    refused: &mut BTreeSet<Hash>,
) -> Result<Option<(ErrorCode, String)>, ClientError> {
    // Receipts that arrive together are marked in one durable commit.
    let mut receipts = Vec::new();
    let flush = |receipts: &mut Vec<Hash>| -> Result<(), ClientError> {
        let n = store.mark_archived_all(receipts, now_ms())?;
        status.lock().expect("status lock").archived += n as u64;
        receipts.clear();
        Ok(())
    };
    while let Some(ev) = edge.poll_event() {
        let mut s = status.lock().expect("status lock");
        match ev {
            EdgeEvent::Welcomed { version, archive } => {
                tracing::info!(%archive, version, "sync session up");
                s.connected = true;
                s.archive = Some(archive);
                s.last_error = None;
            }
            EdgeEvent::Archived(id) => {
                receipts.push(id);
                s.last_receipt_ms = Some(now_ms());
            }
            EdgeEvent::Refused { asset, reason } => {
                tracing::error!(asset = %asset, %reason, "archive refused an asset; it stays in the outbox");
                refused.insert(asset);
                s.refused.push((asset, reason));
            }
            EdgeEvent::Closed { code, message } => {
                s.last_error = Some(message.clone());
                drop(s);
                flush(&mut receipts)?;
                return Ok(Some((code, message)));
            }
        }
    }
    flush(&mut receipts)?;
    Ok(None)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
