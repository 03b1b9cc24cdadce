//! `piste archive`: run an archive node, see what each appliance has sent, verify the blobs.

use anyhow::{Result, bail};
use clap::Subcommand;
use piste_archive::{Archive, BlobStore, NodeStatus, ServeOptions};
use piste_store::{Hash, Manifest};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Archive commands.
#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// Accept sync sessions from appliances until stopped.
    Serve {
        /// The data directory: catalog, blobs, staging, status.json.
        #[arg(long)]
        data: PathBuf,
        /// Directory with ca.crt, archive.crt, archive.key and (optionally) crl.pem.
        #[arg(long)]
        pki: PathBuf,
        /// Address to listen on (port 0 picks one, written to DATA/listen.addr).
        #[arg(long, default_value = "0.0.0.0:4433")]
        listen: SocketAddr,
        /// This node's name.
        #[arg(long, default_value = "archive")]
        name: String,
        /// Keep blobs in S3 (s3://bucket[/prefix]; endpoint and keys from AWS_* variables)
        /// instead of DATA/blobs.
        #[arg(long)]
        s3: Option<String>,
    },
    /// Each appliance: last seen, reported backlog, bytes and assets received.
    Status {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The node's S3 blob store, as given to `serve`.
        #[arg(long)]
        s3: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every stored file of every asset in the catalog (exit status 2 on damage).
    Verify {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The node's S3 blob store, as given to `serve`.
        #[arg(long)]
        s3: Option<String>,
    },
}

fn blob_store(data: &std::path::Path, s3: Option<&str>) -> Result<BlobStore> {
    piste_sync::tls::install_default_provider();
    Ok(match s3 {
        Some(url) => BlobStore::s3(url)?,
        None => BlobStore::fs(data.join("blobs"))?,
    })
}

fn ago(ms: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("{:.0} s ago", now.saturating_sub(ms) as f64 / 1000.0)
}

/// Runs an archive command.
pub fn run(cmd: ArchiveCommand) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cmd {
        ArchiveCommand::Serve {
            data,
            pki,
            listen,
            name,
            s3,
        } => {
            let crl = pki.join("crl.pem");
            let options = ServeOptions {
                data: data.clone(),
                listen,
                name,
                ca: pki.join("ca.crt"),
                cert: pki.join("archive.crt"),
                key: pki.join("archive.key"),
                crl: crl.exists().then_some(crl),
            };
            runtime.block_on(async move {
                let blobs = blob_store(&data, s3.as_deref())?;
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    let _ = stop_tx.send(true);
                });
                piste_archive::serve(options, blobs, stop_rx).await?;
                Ok(())
            })
        }
        ArchiveCommand::Status { data, json, s3 } => {
            // A running node holds the catalog; it keeps status.json current instead.
            let status: NodeStatus =
                match Archive::open("archive", &data, blob_store(&data, s3.as_deref())?) {
                    Ok(a) => a.status(),
                    Err(piste_archive::Error::Busy(_)) => {
                        serde_json::from_slice(&std::fs::read(data.join("status.json"))?)?
                    }
                    Err(e) => return Err(e.into()),
                };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            println!(
                "archive {} · {} assets · blobs on {}",
                status.name, status.assets, status.blobs
            );
            println!(
                "{:<40}  {:<9}  {:>12}  {:>8}  {:>10}  {:>14}",
                "appliance", "seen", "bytes", "assets", "backlog", "backlog bytes"
            );
            for (who, a) in &status.appliances {
                println!(
                    "{:<40}  {:<9}  {:>12}  {:>8}  {:>10}  {:>14}",
                    who,
                    if a.connected {
                        "now".to_owned()
                    } else {
                        ago(a.last_seen_ms)
                    },
                    a.bytes_received,
                    a.assets_received,
                    a.backlog_assets.iter().sum::<u64>(),
                    a.backlog_bytes.iter().sum::<u64>()
                );
            }
            Ok(())
        }
        ArchiveCommand::Verify { data, s3 } => runtime.block_on(async move {
            let archive = Archive::open("archive", &data, blob_store(&data, s3.as_deref())?)?;
            let (mut files, mut bad) = (0u64, 0u64);
            let ids = archive.catalog().ids()?;
            for id in &ids {
                let bytes = archive.catalog().manifest_bytes(id)?.unwrap_or_default();
                let Ok(m) = Manifest::from_bytes(&bytes) else {
                    println!("CORRUPT  manifest of asset {id}");
                    bad += 1;
                    continue;
                };
                if Hash::of(&bytes) != *id {
                    println!("CORRUPT  manifest of asset {id}");
                    bad += 1;
                }
                for r in &m.renditions {
                    files += 1;
                    match archive.blobs().get(&r.hash).await {
                        Ok(b) if Hash::of(&b) == r.hash => {}
                        Ok(_) => {
                            println!("CORRUPT  {} of asset {id}", r.name);
                            bad += 1;
                        }
                        Err(e) => {
                            println!("MISSING  {} of asset {id}: {e}", r.name);
                            bad += 1;
                        }
                    }
                }
            }
            println!(
                "checked {} assets, {files} files: {}",
                ids.len(),
                if bad == 0 {
                    "no damage".to_owned()
                } else {
                    format!("{bad} damaged")
                }
            );
            if bad > 0 {
                bail!("the archive is damaged");
            }
            Ok(())
        }),
    }
}
