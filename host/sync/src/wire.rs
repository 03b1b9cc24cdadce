//! The wire format: length-prefixed postcard frames, and the limits every decoder enforces.

use piste_store::{CHUNK_SIZE, Hash, Priority};
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u16 = 1;
/// The oldest protocol version this build still speaks.
pub const MIN_VERSION: u16 = 1;
/// The largest frame body either side accepts: one chunk and room for its header.
pub const MAX_FRAME: usize = CHUNK_SIZE + 4096;
/// The most files one offer may name.
pub const MAX_BLOBS: usize = 1024;

/// What an appliance still has to send, per priority class, most urgent first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Pending assets per class.
    pub assets: [u64; 3],
    /// Pending bytes per class.
    pub bytes: [u64; 3],
}

/// A file the edge offers: its size and chunk hashes, so every chunk can be checked alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobOffer {
    /// The whole file's hash.
    pub hash: Hash,
    /// Its size in bytes.
    pub size: u64,
    /// The hash of each chunk.
    pub chunks: Vec<Hash>,
}

/// An asset the edge offers: its manifest and its files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The asset id: the hash of `manifest`.
    pub asset: Hash,
    /// Its sync class.
    pub priority: Priority,
    /// The canonical manifest bytes.
    pub manifest: Vec<u8>,
    /// The files its renditions name, each once.
    pub blobs: Vec<BlobOffer>,
}

/// Where the archive stands on one file: the chunks before `from_chunk` are safely staged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedBlob {
    /// The file.
    pub hash: Hash,
    /// The first chunk the archive still needs.
    pub from_chunk: u32,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The two sides share no protocol version.
    VersionMismatch,
    /// A frame broke the protocol.
    ProtocolViolation,
    /// The peer is not allowed to do this.
    Forbidden,
    /// The archive cannot store anything right now.
    Unavailable,
}

/// One message. Edge to archive: `Hello`, `Offer`, `Chunk`, `Status`. Archive to edge:
/// `Welcome`, `Need`, `Nack`, `Receipt`, `Refused`. Either way: `Goodbye`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// The first frame from the edge: the versions it speaks and its backlog.
    Hello {
        /// Oldest version spoken.
        min_version: u16,
        /// Newest version spoken.
        max_version: u16,
        /// What it still has to send.
        backlog: Backlog,
    },
    /// The archive's answer: the version both will speak.
    Welcome {
        /// The chosen version.
        version: u16,
        /// The archive node's name.
        archive: String,
    },
    /// "Do you have this asset?"
    Offer(Offer),
    /// "I need these parts of it" (an empty list: "I have the files; wait for the receipt").
    Need {
        /// The asset.
        asset: Hash,
        /// The files still needed, and from which chunk.
        blobs: Vec<NeedBlob>,
    },
    /// One chunk of a file.
    Chunk {
        /// The file.
        blob: Hash,
        /// The chunk's index.
        index: u32,
        /// Its bytes.
        #[serde(with = "serde_bytes_compat")]
        data: Vec<u8>,
    },
    /// A chunk failed its hash or length check: send the file again from this chunk.
    Nack {
        /// The file.
        blob: Hash,
        /// The chunk that failed.
        index: u32,
    },
    /// The asset is durable in the archive: the edge may mark it archived.
    Receipt {
        /// The asset.
        asset: Hash,
    },
    /// The archive will not take this asset, and why.
    Refused {
        /// The asset.
        asset: Hash,
        /// Why, for the edge's log.
        reason: String,
    },
    /// The edge's backlog, sent now and then.
    Status {
        /// What it still has to send.
        backlog: Backlog,
    },
    /// The session ends, and why.
    Goodbye {
        /// The kind of ending.
        code: ErrorCode,
        /// What went wrong, for the other side's log.
        message: String,
    },
}

impl Frame {
    /// The frame's kind, for messages (a chunk's bytes never go into a log line).
    pub fn kind(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "Hello",
            Frame::Welcome { .. } => "Welcome",
            Frame::Offer(_) => "Offer",
            Frame::Need { .. } => "Need",
            Frame::Chunk { .. } => "Chunk",
            Frame::Nack { .. } => "Nack",
            Frame::Receipt { .. } => "Receipt",
            Frame::Refused { .. } => "Refused",
            Frame::Status { .. } => "Status",
            Frame::Goodbye { .. } => "Goodbye",
        }
    }
}

/// Bytes that are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The length prefix is over [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    /// The body does not decode.
    #[error("frame does not decode: {0}")]
    Malformed(String),
    /// The body decoded but left bytes over.
    #[error("frame has {0} trailing bytes")]
    Trailing(usize),
}

/// Postcard encodes `Vec<u8>` element by element; this keeps it a length and a copy.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Encodes a frame with its 4-byte big-endian length prefix.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let body = postcard::to_stdvec(frame).expect("frames always serialise");
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// The length prefix and frame header of a `Chunk` carrying `len` bytes, so a sender can
/// write the header and then the file's bytes without copying them into a frame first.
pub fn encode_chunk_header(blob: &Hash, index: u32, len: usize) -> Vec<u8> {
    // Encode an empty chunk, then patch in the real data length: postcard writes the
    // byte string's length as a varint just before the (here empty) bytes.
    let frame = Frame::Chunk {
        blob: *blob,
        index,
        data: Vec::new(),
    };
    let mut body = postcard::to_stdvec(&frame).expect("frames always serialise");
    body.pop(); // the varint 0 of the empty data
    let mut n = len;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            body.push(byte);
            break;
        }
        body.push(byte | 0x80);
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&((body.len() + len) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// The variant index postcard gives `Frame::Chunk`.
const CHUNK_VARIANT: u8 = 4;
/// The longest `Chunk` header: variant, blob, index and length varints.
pub const MAX_CHUNK_HEADER: usize = 1 + 32 + 5 + 10;

fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Reads the header of a `Chunk` frame body from its first bytes: (blob, index, data length,
/// header length). `None` if the body is not a chunk or the header is not all there. Lets a
/// receiver read the data straight into its own buffer.
pub fn parse_chunk_header(head: &[u8]) -> Option<(Hash, u32, usize, usize)> {
    if head.first() != Some(&CHUNK_VARIANT) || head.len() < 34 {
        return None;
    }
    let blob = Hash(head[1..33].try_into().ok()?);
    let (index, a) = varint(&head[33..])?;
    let (len, b) = varint(&head[33 + a..])?;
    Some((
        blob,
        u32::try_from(index).ok()?,
        usize::try_from(len).ok()?,
        33 + a + b,
    ))
}

/// Reads a length prefix: how many body bytes follow.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n > MAX_FRAME {
        Err(WireError::TooLarge(n))
    } else {
        Ok(n)
    }
}

/// Decodes one frame body (without its length prefix).
pub fn decode(body: &[u8]) -> Result<Frame, WireError> {
    if body.len() > MAX_FRAME {
        return Err(WireError::TooLarge(body.len()));
    }
    let (frame, rest) = postcard::take_from_bytes::<Frame>(body)
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Trailing(rest.len()));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_header_matches_full_encoding() {
        for len in [0usize, 1, 127, 128, 300, 16_384, CHUNK_SIZE] {
            let data = vec![7u8; len];
            let blob = Hash::of(b"x");
            let full = encode(&Frame::Chunk {
                blob,
                index: 9,
                data: data.clone(),
            });
            let mut split = encode_chunk_header(&blob, 9, len);
            split.extend_from_slice(&data);
            assert_eq!(full, split, "len {len}");
            let (b, i, l, h) = parse_chunk_header(&full[4..]).unwrap();
            assert_eq!((b, i, l, h + l), (blob, 9, len, full.len() - 4));
        }
    }
}
