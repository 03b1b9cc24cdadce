//! `piste store`: what the appliance holds, what is damaged, and (by explicit command) drop.

use anyhow::{Result, bail};
use clap::Subcommand;
use piste_store::{Damage, Hash, OutboxState, Store, StoreOptions};
use std::path::PathBuf;

/// The appliance store's default directory.
pub const DEFAULT_STORE: &str = "/var/lib/piste/store";

/// Store commands.
#[derive(Subcommand)]
pub enum StoreCommand {
    /// List assets, oldest first, with their outbox state.
    Ls {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one asset's manifest (a prefix of its id is enough).
    Show {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// The asset id or a unique prefix of it.
        id: String,
    },
    /// Re-hash every manifest and file, and report what is damaged (exit status 2 if any).
    Verify {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop an asset. One the archive has not acknowledged needs --unsynced --force.
    Drop {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// The asset id or a unique prefix of it.
        id: String,
        /// Allow dropping an asset that has not reached the archive.
        #[arg(long)]
        unsynced: bool,
        /// Confirm that the asset is lost for good.
        #[arg(long)]
        force: bool,
    },
}

/// Finds the asset an id prefix names.
pub fn resolve(store: &Store, prefix: &str) -> Result<Hash> {
    if let Ok(h) = prefix.parse() {
        return Ok(h);
    }
    let hits: Vec<Hash> = store
        .list()?
        .into_iter()
        .map(|a| a.id)
        .filter(|id| id.to_string().starts_with(prefix))
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no asset id starts with {prefix:?}; see `piste store ls`"),
        _ => bail!(
            "{} asset ids start with {prefix:?}; give more digits",
            hits.len()
        ),
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// Runs a store command.
pub fn run(cmd: StoreCommand) -> Result<()> {
    match cmd {
        StoreCommand::Ls { store, json } => {
            let store = Store::open(&store, StoreOptions::default())?;
            let list = store.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            println!(
                "{:<12}  {:<8}  {:<9}  {:>10}  {:<14}  event",
                "id", "priority", "state", "size", "venue"
            );
            for a in &list {
                let state = match a.state {
                    OutboxState::Pending => "pending",
                    OutboxState::Archived { .. } => "archived",
                };
                println!(
                    "{:<12}  {:<8}  {:<9}  {:>10}  {:<14}  {}",
                    a.id.short(),
                    a.priority.name(),
                    state,
                    size(a.size),
                    a.venue,
                    a.event
                );
            }
            let u = store.usage()?;
            println!(
                "{} assets, {} on disk{}; pending: {} metadata, {} render, {} bulk ({})",
                u.assets,
                size(u.bytes),
                u.quota_bytes
                    .map(|q| format!(" of {}", size(q)))
                    .unwrap_or_default(),
                u.pending_assets[0],
                u.pending_assets[1],
                u.pending_assets[2],
                size(u.pending_bytes.iter().sum())
            );
        }
        StoreCommand::Show { store, id } => {
            let store = Store::open(&store, StoreOptions::default())?;
            let id = resolve(&store, &id)?;
            let m = store.manifest(&id)?;
            let state = store.state(&id)?;
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({ "id": id, "state": state, "manifest": m })
                )?
            );
        }
        StoreCommand::Verify { store, json } => {
            let store = Store::open(&store, StoreOptions::default())?;
            let report = store.verify()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "checked {} assets, {} files, {}",
                    report.assets,
                    report.files,
                    size(report.bytes)
                );
                for d in &report.damage {
                    match d {
                        Damage::MissingFile { hash, assets } => {
                            println!("MISSING  file {hash} (named by {} assets)", assets.len())
                        }
                        Damage::CorruptFile {
                            hash,
                            actual,
                            assets,
                        } => {
                            println!(
                                "CORRUPT  file {hash} now hashes to {actual} (named by {} assets)",
                                assets.len()
                            )
                        }
                        Damage::CorruptManifest { id } => {
                            println!("CORRUPT  manifest of asset {id}")
                        }
                    }
                }
                if report.damage.is_empty() {
                    println!("no damage");
                }
            }
            if !report.damage.is_empty() {
                std::process::exit(2);
            }
        }
        StoreCommand::Drop {
            store,
            id,
            unsynced,
            force,
        } => {
            let store = Store::open(&store, StoreOptions::default())?;
            let id = resolve(&store, &id)?;
            if store.state(&id)? == OutboxState::Pending && !unsynced {
                bail!(
                    "asset {id} has not reached the archive; add --unsynced --force to drop it anyway"
                );
            }
            if store.state(&id)? == OutboxState::Pending {
                eprintln!(
                    "WARNING: asset {id} never reached the archive; dropping it loses it for good"
                );
            }
            store.drop_unsynced(&id, force)?;
            println!("dropped {id}");
        }
    }
    Ok(())
}
