//! The asset manifest: what an asset is, addressed by the BLAKE3 hash of its canonical bytes.

use crate::Hash;
use serde::{Deserialize, Serialize};

/// Sync order: metadata and tags before renders before bulk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    /// Moments, tags, captions: small and wanted first.
    Metadata = 0,
    /// Replay renders: orbit, bullet time, slices.
    Render = 1,
    /// Everything else: raw clips, logs.
    Bulk = 2,
}

impl Priority {
    /// Every class, most urgent first.
    pub const ALL: [Priority; 3] = [Priority::Metadata, Priority::Render, Priority::Bulk];

    /// The class as stored in the catalog.
    pub fn from_u8(v: u8) -> Option<Priority> {
        Priority::ALL.get(v as usize).copied()
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Metadata => "metadata",
            Priority::Render => "render",
            Priority::Bulk => "bulk",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Priority, String> {
        Priority::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown priority {s:?}; use metadata, render or bulk"))
    }
}

/// One file of an asset: a render, a still, a moment record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    /// Its name within the asset, e.g. `orbit.mp4`.
    pub name: String,
    /// Its media type, e.g. `video/mp4`.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The BLAKE3 hash of its bytes.
    pub hash: Hash,
}

/// A tag a module gave the moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag, e.g. `triple-axel`.
    pub label: String,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// A caption in one language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Caption {
    /// BCP 47 language tag.
    pub language: String,
    /// The caption text.
    pub text: String,
}

/// A distribution decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// The destination's id.
    pub destination: String,
    /// Not before this time, milliseconds since the Unix epoch.
    pub not_before_ms: u64,
}

/// What an asset is. Its id is [`Manifest::id`], the hash of [`Manifest::to_bytes`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The venue that made it; the archive accepts it only from that venue's appliances.
    pub venue: String,
    /// The event, e.g. `figure-skating/women/free`.
    pub event: String,
    /// When the moment happened, milliseconds since the Unix epoch.
    pub captured_ms: u64,
    /// When the asset was made, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Its sync class.
    pub priority: Priority,
    /// Its files.
    pub renditions: Vec<Rendition>,
    /// Tags, from tagger modules.
    pub tags: Vec<Tag>,
    /// Captions, from captioner modules.
    pub captions: Vec<Caption>,
    /// Distribution decisions, from distributor modules.
    pub routes: Vec<Route>,
}

/// A manifest that cannot be decoded or breaks a rule.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The bytes are not a manifest.
    #[error("manifest is not decodable: {0}")]
    Decode(String),
    /// A field breaks a rule.
    #[error("manifest field {field}: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The most renditions, tags, captions or routes one manifest may carry.
pub const MAX_ITEMS: usize = 1024;
/// The longest string a manifest field may hold, in bytes.
pub const MAX_TEXT: usize = 4096;

impl Manifest {
    /// The canonical encoding: the bytes that are hashed, stored and sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a manifest always serialises")
    }

    /// Decodes and validates canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let m: Manifest =
            postcard::from_bytes(bytes).map_err(|e| ManifestError::Decode(e.to_string()))?;
        m.validate()?;
        Ok(m)
    }

    /// The asset's id: the hash of its canonical bytes.
    pub fn id(&self) -> Hash {
        Hash::of(&self.to_bytes())
    }

    /// Total bytes of its renditions.
    pub fn size(&self) -> u64 {
        self.renditions.iter().map(|r| r.size).sum()
    }

    /// Checks the rules every stored or received manifest obeys.
    pub fn validate(&self) -> Result<(), ManifestError> {
        let invalid = |field, problem: String| Err(ManifestError::Invalid { field, problem });
        if self.venue.is_empty() || self.venue.len() > 64 {
            return invalid("venue", "must be 1 to 64 bytes".into());
        }
        if !self
            .venue
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return invalid(
                "venue",
                format!("{:?} may hold only letters, digits, - and _", self.venue),
            );
        }
        for (field, n) in [
            ("renditions", self.renditions.len()),
            ("tags", self.tags.len()),
            ("captions", self.captions.len()),
            ("routes", self.routes.len()),
        ] {
            if n > MAX_ITEMS {
                return invalid(field, format!("{n} items, more than {MAX_ITEMS}"));
            }
        }
        let texts = std::iter::once(&self.event)
            .chain(
                self.renditions
                    .iter()
                    .flat_map(|r| [&r.name, &r.media_type]),
            )
            .chain(self.tags.iter().map(|t| &t.label))
            .chain(self.captions.iter().flat_map(|c| [&c.language, &c.text]))
            .chain(self.routes.iter().map(|r| &r.destination));
        if let Some(t) = texts.into_iter().find(|t| t.len() > MAX_TEXT) {
            return invalid("text", format!("{} bytes, more than {MAX_TEXT}", t.len()));
        }
        let mut names: Vec<&str> = self.renditions.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return invalid("renditions", format!("name {:?} appears twice", w[0]));
        }
        if let Some(r) = self.renditions.iter().find(|r| {
            r.name.is_empty() || r.name.contains('/') || r.name.contains('\0') || r.name == ".."
        }) {
            return invalid(
                "renditions",
                format!("name {:?} is not a plain file name", r.name),
            );
        }
        if let Some(t) = self
            .tags
            .iter()
            .find(|t| !(0.0..=1.0).contains(&t.confidence))
        {
            return invalid(
                "tags",
                format!(
                    "confidence {} of {:?} is outside [0, 1]",
                    t.confidence, t.label
                ),
            );
        }
        Ok(())
    }
}
