//! Shared helpers: where the built guests are, a signing key, a sandbox, sample data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use piste_sandbox::bindings::{Asset, ConfigValue, Destination, Moment, Rendition};
use piste_sandbox::{
    Limits, LoadedModule, ModuleSpec, PublisherKey, Result, Sandbox, SandboxConfig, TrustStore,
    World,
};
use tempfile::TempDir;

/// The directory of built guests: PISTE_MODULES, or target/modules of the workspace.
pub fn modules_dir() -> PathBuf {
    let dir = std::env::var_os("PISTE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/modules"));
    assert!(
        dir.join("tag-rules.wasm").is_file(),
        "no built guests in {}: run `cargo xtask modules` (or `cargo xtask test`) first",
        dir.display()
    );
    dir
}

/// The bytes of a built guest.
pub fn guest(name: &str) -> Vec<u8> {
    let path = modules_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A publisher key, a sandbox that trusts it, and a scratch directory.
pub struct Bench {
    pub dir: TempDir,
    pub key: PublisherKey,
    pub sandbox: Arc<Sandbox>,
}

impl Bench {
    pub fn new() -> Self {
        Self::with_config(SandboxConfig::default())
    }

    pub fn with_config(config: SandboxConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = PublisherKey::generate();
        let mut trust = TrustStore::empty();
        trust.add(key.public().clone());
        let config = SandboxConfig {
            cache_dir: Some(dir.path().join("cache")),
            ..config
        };
        let sandbox = Sandbox::new(config, trust).expect("sandbox");
        Bench { dir, key, sandbox }
    }

    /// Writes `name` signed by the trusted key into the scratch directory.
    pub fn signed(&self, name: &str) -> PathBuf {
        let signed = self.key.sign(name, &guest(name)).expect("sign");
        self.write(&format!("{name}.wasm"), &signed)
    }

    pub fn write(&self, file: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(file);
        std::fs::write(&path, bytes).expect("write module");
        path
    }

    pub fn load(&self, name: &str, world: World, limits: Limits) -> Result<Arc<LoadedModule>> {
        self.load_with(name, world, limits, BTreeMap::new())
    }

    pub fn load_with(
        &self,
        name: &str,
        world: World,
        limits: Limits,
        config: BTreeMap<String, ConfigValue>,
    ) -> Result<Arc<LoadedModule>> {
        let spec = ModuleSpec::new(self.signed(name), world)
            .with_limits(limits)
            .with_config(config);
        self.sandbox.load(spec)
    }
}

/// The sample moments the demo uses (ski jump, figure skating, aerials, alpine).
pub fn moments() -> Vec<Moment> {
    serde_json::from_str(include_str!("../../../cli/samples/moments.json")).expect("sample moments")
}

/// The sample destinations.
pub fn destinations() -> Vec<Destination> {
    serde_json::from_str(include_str!("../../../cli/samples/destinations.json"))
        .expect("sample destinations")
}

/// An asset made from a moment with the sample renditions.
pub fn asset(moment: &Moment) -> Asset {
    let renditions: Vec<Rendition> =
        serde_json::from_str(include_str!("../../../cli/samples/renditions.json"))
            .expect("sample renditions");
    Asset {
        id: format!("asset-{}", moment.id),
        moment: moment.clone(),
        renditions,
        tags: Vec::new(),
        embargo_until_ms: None,
    }
}
