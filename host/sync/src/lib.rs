//! The sync protocol between an appliance and the archive.
//!
//! The protocol is a pair of sans-IO state machines, [`EdgeSession`] on the appliance and
//! [`IngestSession`] on the archive: they take frames and events with the time as a
//! parameter and hand out frames to send and work to do. Sockets, files and timers live in
//! thin adapters around them, so tests drive both ends with a simulated clock and a
//! simulated lossy network.
//!
//! What it is not: it stores nothing itself. The edge reads from and marks the
//! `piste-store` outbox; the archive's blob stores and catalog are `piste-archive`'s.
//!
//! Main types: [`Frame`] (the wire format, versioned), [`EdgeSession`], [`IngestSession`],
//! [`TokenBucket`] (the global rate cap).

mod bucket;
pub mod client;
mod edge;
mod ingest;
pub mod pki;
pub mod server;
pub mod tls;
pub mod transport;
mod wire;

pub use bucket::TokenBucket;
pub use edge::{EdgeConfig, EdgeEvent, EdgeSession, Transmit};
pub use ingest::{Have, IngestOutput, IngestSession};
pub use wire::{
    Backlog, BlobOffer, ErrorCode, Frame, MAX_BLOBS, MAX_CHUNK_HEADER, MAX_FRAME, MIN_VERSION,
    NeedBlob, Offer, VERSION, WireError, body_len, decode, encode, encode_chunk_header,
    parse_chunk_header,
};
