//! The archive's side of a sync session, sans IO: it checks the edge's version and venue,
//! says what it needs, verifies every chunk, and asks for a receipt to be sent only once the
//! adapter says the asset is durable.

use crate::wire::{
    Backlog, BlobOffer, ErrorCode, Frame, MAX_BLOBS, MIN_VERSION, NeedBlob, Offer, VERSION,
};
use piste_store::{CHUNK_SIZE, Hash, Manifest, chunk_id, root_of};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The most assets one session may have in progress at once.
pub const MAX_ASSETS_IN_PROGRESS: usize = 1024;

/// What the archive already holds of an offered file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Have {
    /// The whole file is in the blob store.
    Stored,
    /// This many leading chunks are staged and verified.
    Staged(u32),
}

/// Work for the archive's adapter, in order.
#[derive(Debug, PartialEq)]
pub enum IngestOutput {
    /// Send this frame to the edge.
    Send(Frame),
    /// Find out what the archive holds of this asset and answer with
    /// [`IngestSession::handle_lookup`].
    Lookup {
        /// The asset.
        asset: Hash,
        /// Its files.
        blobs: Vec<BlobOffer>,
    },
    /// Stage this verified chunk at `offset` of the file's staging area.
    WriteChunk {
        /// The file.
        blob: Hash,
        /// The chunk's index.
        index: u32,
        /// Where it goes in the file.
        offset: u64,
        /// Its bytes, already checked against the offered chunk hash.
        data: Vec<u8>,
    },
    /// Every chunk of this file is staged and verified, and the chunk ids add up to its hash,
    /// so the file is whole: store it durably (create if absent) and answer with
    /// [`IngestSession::handle_blob_stored`].
    FinishBlob(BlobOffer),
    /// Every file of this asset is stored: write its catalog row durably and answer with
    /// [`IngestSession::handle_committed`].
    Commit {
        /// The asset.
        asset: Hash,
        /// Its decoded manifest.
        manifest: Manifest,
        /// Its canonical bytes.
        bytes: Vec<u8>,
    },
    /// An asset was refused: log it.
    Refused {
        /// The asset.
        asset: Hash,
        /// Why.
        reason: String,
    },
    /// The edge reported its backlog.
    Backlog(Backlog),
    /// The session is over: log why and close the connection once the queue is sent.
    Closed {
        /// Why.
        code: ErrorCode,
        /// What happened.
        message: String,
    },
}

#[derive(Debug)]
struct AssetIn {
    manifest: Manifest,
    bytes: Vec<u8>,
    blobs: Vec<BlobOffer>,
    waiting: BTreeSet<Hash>,
    looked_up: bool,
}

#[derive(Debug)]
struct BlobIn {
    offer: BlobOffer,
    next: u32,
    finishing: bool,
    assets: BTreeSet<Hash>,
}

#[derive(Debug, PartialEq)]
enum State {
    AwaitHello,
    Ready,
    Closed,
}

/// The archive's state machine for one connection from one appliance.
#[derive(Debug)]
pub struct IngestSession {
    venue: String,
    archive: String,
    state: State,
    assets: BTreeMap<Hash, AssetIn>,
    blobs: BTreeMap<Hash, BlobIn>,
    out: VecDeque<IngestOutput>,
    /// Chunks that failed their check and were asked for again.
    pub chunks_refused: u64,
    /// Bytes of verified chunks.
    pub chunk_bytes: u64,
}

impl IngestSession {
    /// A session with an appliance of `venue` (from its certificate), on archive node `archive`.
    pub fn new(venue: &str, archive: &str) -> IngestSession {
        IngestSession {
            venue: venue.to_owned(),
            archive: archive.to_owned(),
            state: State::AwaitHello,
            assets: BTreeMap::new(),
            blobs: BTreeMap::new(),
            out: VecDeque::new(),
            chunks_refused: 0,
            chunk_bytes: 0,
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The next piece of work.
    pub fn poll_output(&mut self) -> Option<IngestOutput> {
        self.out.pop_front()
    }

    fn close(&mut self, code: ErrorCode, message: String) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.out.push_back(IngestOutput::Send(Frame::Goodbye {
            code,
            message: message.clone(),
        }));
        self.out.push_back(IngestOutput::Closed { code, message });
    }

    fn refuse(&mut self, asset: Hash, reason: String) {
        self.out.push_back(IngestOutput::Send(Frame::Refused {
            asset,
            reason: reason.clone(),
        }));
        self.out.push_back(IngestOutput::Refused { asset, reason });
    }

    /// Takes one frame from the edge.
    pub fn handle_frame(&mut self, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        match (frame, &self.state) {
            (
                Frame::Hello {
                    min_version,
                    max_version,
                    backlog,
                },
                State::AwaitHello,
            ) => {
                let version = max_version.min(VERSION);
                if version < min_version.max(MIN_VERSION) || min_version > max_version {
                    return self.close(
                        ErrorCode::VersionMismatch,
                        format!(
                            "the appliance speaks sync protocol {min_version} to {max_version}, this \
                             archive {MIN_VERSION} to {VERSION}: update the older side"
                        ),
                    );
                }
                self.state = State::Ready;
                self.out.push_back(IngestOutput::Send(Frame::Welcome {
                    version,
                    archive: self.archive.clone(),
                }));
                self.out.push_back(IngestOutput::Backlog(backlog));
            }
            (Frame::Status { backlog }, State::Ready) => {
                self.out.push_back(IngestOutput::Backlog(backlog))
            }
            (Frame::Offer(offer), State::Ready) => self.handle_offer(offer),
            (Frame::Chunk { blob, index, data }, State::Ready) => {
                self.handle_chunk(blob, index, data)
            }
            (Frame::Goodbye { code, message }, _) => {
                self.state = State::Closed;
                self.out.push_back(IngestOutput::Closed {
                    code,
                    message: format!("appliance said: {message}"),
                });
            }
            (frame, state) => {
                let name = frame.kind();
                self.close(
                    ErrorCode::ProtocolViolation,
                    format!("appliance sent {name} while the session was in {state:?}"),
                );
            }
        }
    }

    fn handle_offer(&mut self, offer: Offer) {
        let Offer {
            asset,
            manifest: bytes,
            blobs,
            ..
        } = offer;
        if self.assets.contains_key(&asset) {
            return;
        }
        if self.assets.len() >= MAX_ASSETS_IN_PROGRESS {
            return self.close(
                ErrorCode::ProtocolViolation,
                format!("appliance has more than {MAX_ASSETS_IN_PROGRESS} assets in progress"),
            );
        }
        if Hash::of(&bytes) != asset {
            return self.refuse(asset, "manifest bytes do not hash to the asset id".into());
        }
        let manifest = match Manifest::from_bytes(&bytes) {
            Ok(m) => m,
            Err(e) => return self.refuse(asset, e.to_string()),
        };
        if manifest.venue != self.venue {
            return self.refuse(
                asset,
                format!(
                    "an appliance of venue {:?} may not write assets of venue {:?}",
                    self.venue, manifest.venue
                ),
            );
        }
        if let Err(problem) = check_blobs(&manifest, &blobs) {
            return self.refuse(asset, problem);
        }
        self.out.push_back(IngestOutput::Lookup {
            asset,
            blobs: blobs.clone(),
        });
        self.assets.insert(
            asset,
            AssetIn {
                manifest,
                bytes,
                blobs,
                waiting: BTreeSet::new(),
                looked_up: false,
            },
        );
    }

    /// The adapter's answer to `Lookup`: whether the catalog has the asset, and what it holds
    /// of each offered file, in offer order.
    pub fn handle_lookup(&mut self, asset: Hash, in_catalog: bool, have: &[Have]) {
        let Some(a) = self.assets.get_mut(&asset) else {
            return;
        };
        if a.looked_up {
            return;
        }
        a.looked_up = true;
        if in_catalog {
            self.assets.remove(&asset);
            self.out
                .push_back(IngestOutput::Send(Frame::Receipt { asset }));
            return;
        }
        let mut need = Vec::new();
        let mut finish = Vec::new();
        for (b, have) in a.blobs.iter().zip(
            have.iter()
                .copied()
                .chain(std::iter::repeat(Have::Staged(0))),
        ) {
            let chunks = b.chunks.len() as u32;
            if have == Have::Stored {
                continue;
            }
            a.waiting.insert(b.hash);
            let entry = self.blobs.entry(b.hash).or_insert_with(|| {
                let next = match have {
                    Have::Staged(n) => n.min(chunks),
                    Have::Stored => chunks,
                };
                if next == chunks {
                    finish.push(b.clone());
                }
                BlobIn {
                    offer: b.clone(),
                    next,
                    finishing: next == chunks,
                    assets: BTreeSet::new(),
                }
            });
            entry.assets.insert(asset);
            if entry.next < chunks {
                need.push(NeedBlob {
                    hash: b.hash,
                    from_chunk: entry.next,
                });
            }
        }
        let ready = a.waiting.is_empty();
        self.out
            .push_back(IngestOutput::Send(Frame::Need { asset, blobs: need }));
        self.out
            .extend(finish.into_iter().map(IngestOutput::FinishBlob));
        if ready {
            self.commit(asset);
        }
    }

    fn commit(&mut self, asset: Hash) {
        if let Some(a) = self.assets.get(&asset) {
            self.out.push_back(IngestOutput::Commit {
                asset,
                manifest: a.manifest.clone(),
                bytes: a.bytes.clone(),
            });
        }
    }

    fn handle_chunk(&mut self, blob: Hash, index: u32, data: Vec<u8>) {
        let Some(b) = self.blobs.get_mut(&blob) else {
            return; // not needed (any more): a chunk already in flight when a need was met
        };
        if index != b.next || b.finishing {
            return; // stale: sent before a nack or a resume, will come again in order
        }
        let offset = index as u64 * CHUNK_SIZE as u64;
        let expected_len = (b.offer.size - offset).min(CHUNK_SIZE as u64) as usize;
        let count = b.offer.chunks.len();
        if data.len() != expected_len
            || chunk_id(index as usize, count, &data) != b.offer.chunks[index as usize]
        {
            self.chunks_refused += 1;
            tracing::warn!(blob = %blob.short(), index, len = data.len(), expected_len, "chunk failed its check; asked for it again");
            self.out
                .push_back(IngestOutput::Send(Frame::Nack { blob, index }));
            return;
        }
        b.next += 1;
        self.chunk_bytes += data.len() as u64;
        self.out.push_back(IngestOutput::WriteChunk {
            blob,
            index,
            offset,
            data,
        });
        if b.next as usize == b.offer.chunks.len() {
            b.finishing = true;
            self.out
                .push_back(IngestOutput::FinishBlob(b.offer.clone()));
        }
    }

    /// The adapter's answer to `FinishBlob`: `Err` if the whole file did not verify, so the
    /// staged bytes were thrown away and the file is asked for again.
    pub fn handle_blob_stored(&mut self, blob: Hash, result: Result<(), String>) {
        let Some(b) = self.blobs.get_mut(&blob) else {
            return;
        };
        if let Err(problem) = result {
            tracing::warn!(blob = %blob.short(), %problem, "file failed its whole-file check; asked for it again");
            b.next = 0;
            b.finishing = false;
            self.chunks_refused += 1;
            self.out
                .push_back(IngestOutput::Send(Frame::Nack { blob, index: 0 }));
            return;
        }
        let b = self.blobs.remove(&blob).expect("just found");
        for asset in b.assets {
            if let Some(a) = self.assets.get_mut(&asset) {
                a.waiting.remove(&blob);
                if a.waiting.is_empty() && a.looked_up {
                    self.commit(asset);
                }
            }
        }
    }

    /// The adapter's answer to `Commit`: the asset is durable, so the receipt goes out.
    pub fn handle_committed(&mut self, asset: Hash) {
        if self.assets.remove(&asset).is_some() {
            self.out
                .push_back(IngestOutput::Send(Frame::Receipt { asset }));
        }
    }

    /// The adapter could not make the asset durable: tell the edge to come back later.
    pub fn handle_commit_failed(&mut self, asset: Hash, problem: String) {
        self.assets.remove(&asset);
        self.close(
            ErrorCode::Unavailable,
            format!("archive could not store asset {}: {problem}", asset.short()),
        );
    }
}

/// The offered files must be exactly the manifest's renditions, with consistent sizes and
/// chunk counts.
fn check_blobs(manifest: &Manifest, blobs: &[BlobOffer]) -> Result<(), String> {
    if blobs.len() > MAX_BLOBS {
        return Err(format!(
            "{} files offered, more than {MAX_BLOBS}",
            blobs.len()
        ));
    }
    let offered: BTreeMap<Hash, &BlobOffer> = blobs.iter().map(|b| (b.hash, b)).collect();
    if offered.len() != blobs.len() {
        return Err("a file is offered twice".into());
    }
    let named: BTreeSet<Hash> = manifest.renditions.iter().map(|r| r.hash).collect();
    if named != offered.keys().copied().collect() {
        return Err("the offered files are not the manifest's renditions".into());
    }
    for r in &manifest.renditions {
        let b = offered[&r.hash];
        if b.size != r.size {
            return Err(format!(
                "rendition {:?} is {} bytes, its file {}",
                r.name, r.size, b.size
            ));
        }
        if b.chunks.len() as u64 != r.size.div_ceil(CHUNK_SIZE as u64) {
            return Err(format!(
                "file of rendition {:?} has {} chunk hashes for {} bytes",
                r.name,
                b.chunks.len(),
                r.size
            ));
        }
        // The chunk ids must add up to the file's hash: then every verified chunk is a
        // verified part of exactly this file, and the whole needs no second hashing.
        if root_of(&b.chunks) != b.hash {
            return Err(format!(
                "the chunk ids of rendition {:?} do not add up to its file's hash",
                r.name
            ));
        }
    }
    Ok(())
}
