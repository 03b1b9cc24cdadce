//! The appliance's side of a sync session, sans IO: it offers assets, sends the chunks the
//! archive asks for in priority order under the rate cap, and reports receipts.

use crate::bucket::TokenBucket;
use crate::wire::{Backlog, ErrorCode, Frame, MIN_VERSION, Offer, VERSION};
use piste_store::{CHUNK_SIZE, Hash, Priority};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// How an edge session behaves.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// The global rate cap in bytes per second; `None` for none.
    pub rate: Option<u64>,
    /// How many offered assets may await their receipt at once.
    pub max_in_flight: usize,
    /// How often the backlog is reported to the archive.
    pub status_interval: Duration,
}

impl Default for EdgeConfig {
    fn default() -> EdgeConfig {
        EdgeConfig {
            rate: None,
            max_in_flight: 64,
            status_interval: Duration::from_secs(5),
        }
    }
}

/// Something for the adapter to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Transmit {
    /// A frame, as is.
    Frame(Frame),
    /// A `Chunk` frame whose bytes the adapter reads from the stored file.
    Chunk {
        /// The file.
        blob: Hash,
        /// The chunk's index.
        index: u32,
        /// Where the chunk starts in the file.
        offset: u64,
        /// How many bytes it has.
        len: usize,
    },
}

/// What happened, for the adapter to act on.
#[derive(Clone, Debug, PartialEq)]
pub enum EdgeEvent {
    /// The archive accepted the session.
    Welcomed {
        /// The version both speak.
        version: u16,
        /// The archive node's name.
        archive: String,
    },
    /// The archive holds the asset durably: mark it archived in the outbox.
    Archived(Hash),
    /// The archive will not take the asset.
    Refused {
        /// The asset.
        asset: Hash,
        /// The archive's reason.
        reason: String,
    },
    /// The session is over.
    Closed {
        /// Why.
        code: ErrorCode,
        /// The message, from the archive or about it.
        message: String,
    },
}

#[derive(Debug)]
struct Transfer {
    priority: Priority,
    seq: u64,
    offer: Offer,
    /// Per offered file: the next chunk to send and the end (exclusive).
    sends: Vec<(u32, u32)>,
}

#[derive(Debug, PartialEq)]
enum State {
    Handshake,
    Ready,
    Closed,
}

/// The edge's state machine for one connection.
#[derive(Debug)]
pub struct EdgeSession {
    config: EdgeConfig,
    state: State,
    bucket: TokenBucket,
    control: VecDeque<Frame>,
    waiting: VecDeque<Offer>,
    transfers: BTreeMap<Hash, Transfer>,
    /// Transfers with chunks left to send, in send order.
    order: BTreeSet<(Priority, u64, Hash)>,
    events: VecDeque<EdgeEvent>,
    seq: u64,
    backlog: Backlog,
    next_status: Instant,
    /// Payload bytes of chunks handed out.
    pub chunk_bytes_sent: u64,
}

const FRAME_OVERHEAD: u64 = 64;

impl EdgeSession {
    /// A new session; its first frame is `Hello` with `backlog`.
    pub fn new(config: EdgeConfig, backlog: Backlog, now: Instant) -> EdgeSession {
        let burst = (CHUNK_SIZE as u64 + FRAME_OVERHEAD).max(config.rate.unwrap_or(0) / 10);
        let mut control = VecDeque::new();
        control.push_back(Frame::Hello {
            min_version: MIN_VERSION,
            max_version: VERSION,
            backlog,
        });
        EdgeSession {
            bucket: TokenBucket::new(config.rate, burst, now),
            next_status: now + config.status_interval,
            config,
            state: State::Handshake,
            control,
            waiting: VecDeque::new(),
            transfers: BTreeMap::new(),
            order: BTreeSet::new(),
            events: VecDeque::new(),
            seq: 0,
            backlog,
            chunk_bytes_sent: 0,
        }
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// How many more offers the session takes now.
    pub fn wants_offers(&self) -> usize {
        if self.state == State::Closed {
            return 0;
        }
        self.config
            .max_in_flight
            .saturating_sub(self.transfers.len() + self.waiting.len())
    }

    /// Whether this asset is offered in this session and not yet answered.
    pub fn is_offered(&self, asset: &Hash) -> bool {
        self.transfers.contains_key(asset) || self.waiting.iter().any(|o| &o.asset == asset)
    }

    /// Queues an asset for this session (offered once the archive welcomes it).
    pub fn offer(&mut self, offer: Offer) {
        if self.state != State::Closed && !self.is_offered(&offer.asset) {
            self.waiting.push_back(offer);
        }
    }

    /// Updates the backlog reported to the archive.
    pub fn set_backlog(&mut self, backlog: Backlog) {
        self.backlog = backlog;
    }

    fn close(&mut self, code: ErrorCode, message: String, tell_peer: bool) {
        if self.state == State::Closed {
            return;
        }
        if tell_peer {
            self.control.push_back(Frame::Goodbye {
                code,
                message: message.clone(),
            });
        }
        self.state = State::Closed;
        self.events.push_back(EdgeEvent::Closed { code, message });
    }

    fn violation(&mut self, what: String) {
        self.close(
            ErrorCode::ProtocolViolation,
            format!("archive broke the protocol: {what}"),
            true,
        );
    }

    /// Takes one frame from the archive.
    pub fn handle_frame(&mut self, frame: Frame, _now: Instant) {
        if self.state == State::Closed {
            return;
        }
        match (frame, &self.state) {
            (Frame::Welcome { version, archive }, State::Handshake) => {
                if !(MIN_VERSION..=VERSION).contains(&version) {
                    return self.violation(format!(
                        "it chose version {version}, not one of {MIN_VERSION} to {VERSION}"
                    ));
                }
                self.state = State::Ready;
                self.events
                    .push_back(EdgeEvent::Welcomed { version, archive });
            }
            (Frame::Goodbye { code, message }, _) => self.close(code, message, false),
            (Frame::Need { asset, blobs }, State::Ready) => {
                let Some(t) = self.transfers.get_mut(&asset) else {
                    return; // answered already (a receipt raced the need)
                };
                for need in blobs {
                    let Some(i) = t.offer.blobs.iter().position(|b| b.hash == need.hash) else {
                        return self.violation(format!(
                            "it needs file {} that asset {} does not have",
                            need.hash.short(),
                            asset.short()
                        ));
                    };
                    let end = t.offer.blobs[i].chunks.len() as u32;
                    t.sends[i] = (need.from_chunk.min(end), end);
                }
                if t.sends.iter().any(|(n, e)| n < e) {
                    self.order.insert((t.priority, t.seq, asset));
                }
            }
            (Frame::Nack { blob, index }, State::Ready) => {
                for (id, t) in &mut self.transfers {
                    for (i, b) in t.offer.blobs.iter().enumerate() {
                        if b.hash == blob && (index as usize) < b.chunks.len() {
                            t.sends[i].0 = t.sends[i].0.min(index);
                            t.sends[i].1 = b.chunks.len() as u32;
                            self.order.insert((t.priority, t.seq, *id));
                        }
                    }
                }
            }
            (Frame::Receipt { asset }, State::Ready) => {
                if let Some(t) = self.transfers.remove(&asset) {
                    self.order.remove(&(t.priority, t.seq, asset));
                }
                self.events.push_back(EdgeEvent::Archived(asset));
            }
            (Frame::Refused { asset, reason }, State::Ready) => {
                if let Some(t) = self.transfers.remove(&asset) {
                    self.order.remove(&(t.priority, t.seq, asset));
                }
                self.events.push_back(EdgeEvent::Refused { asset, reason });
            }
            (frame, state) => {
                let name = frame.kind();
                self.violation(format!("it sent {name} while the session was in {state:?}"));
            }
        }
    }

    /// The next thing to send, if the rate cap allows it now.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(frame) = self.control.front() {
            let cost = frame_cost(frame);
            if !self.bucket.try_take(cost, now) {
                return None;
            }
            return self.control.pop_front().map(Transmit::Frame);
        }
        if self.state != State::Ready {
            return None;
        }
        if now >= self.next_status {
            self.next_status = now + self.config.status_interval;
            self.control.push_back(Frame::Status {
                backlog: self.backlog,
            });
            return self.poll_transmit(now);
        }
        if let Some(offer) = self.waiting.front() {
            let cost = FRAME_OVERHEAD
                + offer.manifest.len() as u64
                + 40 * offer
                    .blobs
                    .iter()
                    .map(|b| b.chunks.len() as u64 + 2)
                    .sum::<u64>();
            if !self.bucket.try_take(cost, now) {
                return None;
            }
            let offer = self.waiting.pop_front().expect("just looked");
            self.seq += 1;
            let transfer = Transfer {
                priority: offer.priority,
                seq: self.seq,
                sends: vec![(0, 0); offer.blobs.len()],
                offer: offer.clone(),
            };
            self.transfers.insert(offer.asset, transfer);
            return Some(Transmit::Frame(Frame::Offer(offer)));
        }
        loop {
            let &(priority, seq, asset) = self.order.first()?;
            let t = self
                .transfers
                .get_mut(&asset)
                .expect("ordered transfers exist");
            let Some(i) = t.sends.iter().position(|(n, e)| n < e) else {
                self.order.remove(&(priority, seq, asset));
                continue;
            };
            let blob = &t.offer.blobs[i];
            let index = t.sends[i].0;
            let offset = index as u64 * CHUNK_SIZE as u64;
            let len = (blob.size - offset).min(CHUNK_SIZE as u64) as usize;
            if !self.bucket.try_take(len as u64 + FRAME_OVERHEAD, now) {
                return None;
            }
            t.sends[i].0 += 1;
            self.chunk_bytes_sent += len as u64;
            return Some(Transmit::Chunk {
                blob: blob.hash,
                index,
                offset,
                len,
            });
        }
    }

    /// When `poll_transmit` may next have something, if it is waiting on the rate cap or
    /// the status timer.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let status = (self.state == State::Ready).then_some(self.next_status);
        let pending = if let Some(f) = self.control.front() {
            Some(frame_cost(f))
        } else if self.state == State::Ready && (!self.waiting.is_empty() || !self.order.is_empty())
        {
            Some(CHUNK_SIZE as u64 + FRAME_OVERHEAD)
        } else {
            None
        };
        let rate = pending.map(|cost| self.bucket.ready_at(cost, now));
        [status, rate].into_iter().flatten().min()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<EdgeEvent> {
        self.events.pop_front()
    }

    /// How many offered assets await their receipt.
    pub fn in_flight(&self) -> usize {
        self.transfers.len() + self.waiting.len()
    }
}

fn frame_cost(frame: &Frame) -> u64 {
    match frame {
        Frame::Offer(o) => FRAME_OVERHEAD + o.manifest.len() as u64,
        _ => FRAME_OVERHEAD,
    }
}
