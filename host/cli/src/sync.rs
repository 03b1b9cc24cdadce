//! `piste sync`: the appliance's sync loop, adding files by hand, and its status. While
//! `sync run` holds the store, `push` and `status` reach it through `STORE/sync.sock`.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use piste_store::{BlobInfo, Hash, Manifest, Priority, Rendition, Store, StoreOptions, Tag};
use piste_sync::client::{self, ClientOptions, ClientStatus};
use piste_sync::tls::Credentials;
use piste_sync::{EdgeConfig, transport};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::DEFAULT_STORE;

/// The appliance's default PKI directory.
pub const DEFAULT_PKI: &str = "/etc/piste/pki";

/// Sync commands.
#[derive(Subcommand)]
pub enum SyncCommand {
    /// Sync the outbox to the archive until stopped (or, with --once, until it is empty).
    Run {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// Directory with ca.crt, appliance.crt and appliance.key.
        #[arg(long, default_value = DEFAULT_PKI)]
        pki: PathBuf,
        /// The archive's address, HOST:PORT.
        #[arg(long)]
        archive: SocketAddr,
        /// The name the archive's certificate carries (defaults to the address's IP).
        #[arg(long)]
        server_name: Option<String>,
        /// Rate cap, bytes per second, with an optional K, M or G (e.g. 20M).
        #[arg(long, value_parser = parse_rate)]
        rate: Option<u64>,
        /// Stop once everything is archived.
        #[arg(long)]
        once: bool,
        /// Disk quota of the store, bytes with an optional K, M or G.
        #[arg(long, value_parser = parse_rate)]
        quota: Option<u64>,
    },
    /// Add files as one asset to the outbox.
    Push {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// The venue the asset belongs to.
        #[arg(long)]
        venue: String,
        /// The event, e.g. figure-skating/women/free.
        #[arg(long, default_value = "manual")]
        event: String,
        /// Sync class: metadata, render or bulk.
        #[arg(long, default_value = "bulk")]
        priority: Priority,
        /// Tags to attach (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// The files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Backlog by priority, send rate and last receipt.
    Status {
        /// The store's directory.
        #[arg(long, default_value = DEFAULT_STORE)]
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A rate or size: digits with an optional K, M or G (powers of 1000).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let (num, mul) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1_000),
        Some('M' | 'm') => (&s[..s.len() - 1], 1_000_000),
        Some('G' | 'g') => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a number with an optional K, M or G"))?;
    if n <= 0.0 {
        return Err(format!("{s:?} must be positive"));
    }
    Ok((n * mul as f64) as u64)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "mp4" => "video/mp4",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "json" => "application/json",
        "glb" => "model/gltf-binary",
        "ply" => "application/x-ply",
        "txt" | "log" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// A push, as sent over the control socket.
#[derive(Debug, Serialize, Deserialize)]
struct PushRequest {
    venue: String,
    event: String,
    priority: Priority,
    tags: Vec<String>,
    paths: Vec<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    Push(PushRequest),
    Status,
}

#[derive(Debug, Serialize, Deserialize)]
enum Response {
    Pushed(Hash),
    Status(StatusReport),
    Error(String),
}

/// What `piste sync status` prints.
#[derive(Debug, Serialize, Deserialize)]
struct StatusReport {
    usage: piste_store::Usage,
    running: bool,
    client: Option<ClientStatus>,
}

fn push(store: &Store, req: &PushRequest) -> Result<Hash> {
    let mut blobs: Vec<BlobInfo> = Vec::new();
    let mut renditions = Vec::new();
    for p in &req.paths {
        let info = store.put_file(p)?;
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no file name", p.display()))?;
        renditions.push(Rendition {
            name: name.to_owned(),
            media_type: media_type(p).into(),
            size: info.size,
            hash: info.hash,
        });
        blobs.push(info);
    }
    let now = now_ms();
    let manifest = Manifest {
        venue: req.venue.clone(),
        event: req.event.clone(),
        captured_ms: now,
        created_ms: now,
        priority: req.priority,
        renditions,
        tags: req
            .tags
            .iter()
            .map(|t| Tag {
                label: t.clone(),
                confidence: 1.0,
            })
            .collect(),
        captions: vec![],
        routes: vec![],
    };
    Ok(store.add(&manifest, &blobs)?)
}

/// Sends one request to a running `sync run`.
fn ask(store_dir: &Path, req: &Request) -> Result<Response> {
    let sock = store_dir.join("sync.sock");
    // A `sync run` that has just started may not be listening yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut stream = loop {
        match std::os::unix::net::UnixStream::connect(&sock) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "the store is busy but {} does not answer; is another process holding it?",
                        sock.display()
                    )
                });
            }
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    serde_json::from_str(&answer).context("reading the answer of `piste sync run`")
}

fn print_status(report: &StatusReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let u = &report.usage;
    println!("backlog:");
    for (i, p) in Priority::ALL.iter().enumerate() {
        println!(
            "  {:<9} {:>6} assets  {:>14} bytes",
            p.name(),
            u.pending_assets[i],
            u.pending_bytes[i]
        );
    }
    match &report.client {
        None => println!("sync: not running"),
        Some(c) => {
            println!(
                "sync: {} {}",
                if c.connected {
                    "connected to"
                } else {
                    "not connected to"
                },
                c.archive.as_deref().unwrap_or("the archive")
            );
            println!(
                "  rate {:.1} MB/s · {} archived by this run · {} bytes sent",
                c.rate_bps / 1e6,
                c.archived,
                c.chunk_bytes_sent
            );
            if let Some(ms) = c.last_receipt_ms {
                println!(
                    "  last receipt {:.1} s ago",
                    now_ms().saturating_sub(ms) as f64 / 1000.0
                );
            }
            if let Some(e) = &c.last_error {
                println!("  last error: {e}");
            }
            for (id, why) in &c.refused {
                println!("  refused {}: {why}", id.short());
            }
        }
    }
    Ok(())
}

/// Runs a sync command.
pub fn run(cmd: SyncCommand) -> Result<()> {
    match cmd {
        SyncCommand::Push {
            store,
            venue,
            event,
            priority,
            tags,
            paths,
        } => {
            let paths: Vec<PathBuf> = paths
                .iter()
                .map(|p| {
                    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
                })
                .collect::<Result<_>>()?;
            let req = PushRequest {
                venue,
                event,
                priority,
                tags,
                paths,
            };
            let id = match Store::open(&store, StoreOptions::default()) {
                Ok(s) => push(&s, &req)?,
                Err(piste_store::Error::Busy(_)) => match ask(&store, &Request::Push(req))? {
                    Response::Pushed(id) => id,
                    Response::Error(e) => bail!(e),
                    Response::Status(_) => bail!("`piste sync run` answered with something else"),
                },
                Err(e) => return Err(e.into()),
            };
            println!("{id}");
            Ok(())
        }
        SyncCommand::Status { store, json } => {
            let report = match Store::open(&store, StoreOptions::default()) {
                Ok(s) => StatusReport {
                    usage: s.usage()?,
                    running: false,
                    client: None,
                },
                Err(piste_store::Error::Busy(_)) => match ask(&store, &Request::Status)? {
                    Response::Status(r) => r,
                    Response::Error(e) => bail!(e),
                    Response::Pushed(_) => bail!("`piste sync run` answered with something else"),
                },
                Err(e) => return Err(e.into()),
            };
            print_status(&report, json)
        }
        SyncCommand::Run {
            store,
            pki,
            archive,
            server_name,
            rate,
            once,
            quota,
        } => {
            let store_dir = store.clone();
            let store = Arc::new(open_for_run(&store, quota)?);
            let creds = Credentials::load(
                &pki.join("ca.crt"),
                &pki.join("appliance.crt"),
                &pki.join("appliance.key"),
                &[],
            )?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let endpoint = transport::client_endpoint(&creds)?;
                let status = Arc::new(Mutex::new(ClientStatus::default()));
                let control = tokio::spawn(control_socket(
                    store_dir.join("sync.sock"),
                    store.clone(),
                    status.clone(),
                ));
                let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    let _ = stop_tx.send(true);
                });
                let options = ClientOptions {
                    archive,
                    server_name: server_name.unwrap_or_else(|| archive.ip().to_string()),
                    session: EdgeConfig {
                        rate,
                        ..EdgeConfig::default()
                    },
                    until_empty: once,
                    min_backoff: Duration::from_millis(200),
                    max_backoff: Duration::from_secs(30),
                    give_up_after: once.then_some(3),
                };
                tracing::info!(%archive, "sync loop starting");
                let result =
                    client::run(store, endpoint.clone(), options, status.clone(), stop_rx).await;
                control.abort();
                let _ = std::fs::remove_file(store_dir.join("sync.sock"));
                endpoint.wait_idle().await;
                result?;
                let s = status.lock().expect("lock").clone();
                println!(
                    "archived {} assets ({} bytes sent)",
                    s.archived, s.chunk_bytes_sent
                );
                if !s.refused.is_empty() {
                    for (id, why) in &s.refused {
                        eprintln!("refused {}: {why}", id.short());
                    }
                    bail!(
                        "the archive refused {} assets; they stay in the outbox",
                        s.refused.len()
                    );
                }
                Ok(())
            })
        }
    }
}

/// Opens the store for `sync run`. A `push` or `status` may hold it for a moment, so a busy
/// store is tried again for a few seconds before giving up.
fn open_for_run(dir: &Path, quota: Option<u64>) -> Result<Store> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match Store::open(dir, StoreOptions { quota_bytes: quota }) {
            Err(piste_store::Error::Busy(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(piste_store::Error::Busy(p)) => {
                bail!(
                    "{} is in use by another process (another `piste sync run`?)",
                    p.display()
                )
            }
            other => return Ok(other?),
        }
    }
}

async fn control_socket(path: PathBuf, store: Arc<Store>, status: Arc<Mutex<ClientStatus>>) {
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(
                "control socket {}: {e}; push and status will not reach this run",
                path.display()
            );
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let store = store.clone();
        let status = status.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            if tokio::io::BufReader::new(read)
                .read_line(&mut line)
                .await
                .is_err()
            {
                return;
            }
            let response = match serde_json::from_str::<Request>(&line) {
                Err(e) => Response::Error(format!("bad request: {e}")),
                Ok(Request::Push(req)) => match push(&store, &req) {
                    Ok(id) => Response::Pushed(id),
                    Err(e) => Response::Error(format!("{e:#}")),
                },
                Ok(Request::Status) => match store.usage() {
                    Ok(usage) => Response::Status(StatusReport {
                        usage,
                        running: true,
                        client: Some(status.lock().expect("lock").clone()),
                    }),
                    Err(e) => Response::Error(e.to_string()),
                },
            };
            let mut out = serde_json::to_string(&response).expect("responses serialise");
            out.push('\n');
            let _ = write.write_all(out.as_bytes()).await;
        });
    }
}
