//! `piste demo`: the three example modules on sample moments, through the real sandbox.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use piste_sandbox::bindings::{Asset, Destination, Moment, Rendition};
use piste_sandbox::{ModuleSpec, Registry, Sandbox, SandboxConfig, TrustStore, World};

/// Sample data embedded in the binary, so the demo runs anywhere.
const MOMENTS: &str = include_str!("../samples/moments.json");
const DESTINATIONS: &str = include_str!("../samples/destinations.json");
const RENDITIONS: &str = include_str!("../samples/renditions.json");

/// Languages the demo captions in.
const LANGUAGES: [&str; 3] = ["en", "fr", "it"];

/// Arguments of `piste demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Directory holding signed tag-rules.wasm, caption-templates.wasm and distribution-policy.wasm.
    #[arg(long)]
    modules: PathBuf,
    /// Trusted publisher keys.
    #[arg(long, env = "PISTE_TRUST")]
    trust: PathBuf,
    /// Directory for precompiled code.
    #[arg(long)]
    cache: Option<PathBuf>,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<()> {
    let moments: Vec<Moment> = serde_json::from_str(MOMENTS).context("sample moments")?;
    let destinations: Vec<Destination> =
        serde_json::from_str(DESTINATIONS).context("sample destinations")?;
    let renditions: Vec<Rendition> =
        serde_json::from_str(RENDITIONS).context("sample renditions")?;

    let sandbox = Sandbox::new(
        SandboxConfig {
            cache_dir: args.cache.clone(),
            ..SandboxConfig::default()
        },
        TrustStore::load(&args.trust)?,
    )?;
    let registry = Registry::new(sandbox);
    let load = |file: &str, world: World| {
        registry
            .load(ModuleSpec::new(args.modules.join(file), world).with_config(BTreeMap::new()))
            .with_context(|| format!("loading {file}"))
    };
    let tagger = load("tag-rules.wasm", World::Tagger)?;
    let captioner = load("caption-templates.wasm", World::Captioner)?;
    let distributor = load("distribution-policy.wasm", World::Distributor)?;

    for moment in &moments {
        let athlete = moment
            .athletes
            .first()
            .map_or("?".to_string(), |a| format!("{} ({})", a.name, a.nation));
        println!("━━ {}  {}  {}", moment.event.name, athlete, moment.id);
        let tags = tagger.tag(moment)?;
        let names: Vec<String> = tags
            .iter()
            .map(|t| format!("{} {:.2}", t.name, t.confidence))
            .collect();
        println!(
            "  tags     {}",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
        for language in LANGUAGES {
            let caption = captioner.caption(moment, &tags, language)?;
            println!("  {language}       {}", caption.text);
        }
        let asset = Asset {
            id: format!("asset-{}", moment.id),
            moment: moment.clone(),
            renditions: renditions.clone(),
            tags: tags.clone(),
            embargo_until_ms: None,
        };
        let now_ms = moment.at_ms + 2_000;
        for d in distributor.route(&asset, &destinations, now_ms)? {
            let when = match d.not_before_ms {
                Some(t) if t > now_ms => format!("in {} min", (t - now_ms).div_ceil(60_000)),
                _ => "now".into(),
            };
            println!(
                "  route    p{} {:<11} {:<12} {:<8} {}",
                d.priority, d.destination, d.rendition, when, d.reason
            );
        }
        println!();
    }
    println!("module metrics");
    for metrics in registry.metrics() {
        print!("{metrics}");
    }
    Ok(())
}
