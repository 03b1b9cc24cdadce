//! Sync over loopback, each figure beside a baseline from the same run: bulk throughput
//! against a plain TLS-over-TCP copy of the same bytes (rustls and tokio), the bytes sent
//! again after the appliance is killed mid-file, and small assets per second against bare
//! durable redb commits.

use piste_archive::{BlobStore, NodeStatus, ServeOptions};
use piste_store::{Manifest, Priority, Rendition, Store, StoreOptions, Tag};
use piste_sync::client::{self, ClientOptions, ClientStatus};
use piste_sync::pki::{self, Ca};
use piste_sync::tls::{self, Credentials};
use piste_sync::{EdgeConfig, transport};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1 << 20;

struct Fleet {
    dir: PathBuf,
    ca: Ca,
}

impl Fleet {
    fn creds(&self, cert: &str, key: &str) -> Credentials {
        let d = &self.dir;
        Credentials::load(&d.join("ca/ca.crt"), &d.join(cert), &d.join(key), &[]).unwrap()
    }

    fn appliance(&self, box_id: &str) -> Credentials {
        let now = time::OffsetDateTime::now_utc();
        let (key, csr) = pki::enroll("cortina", box_id).unwrap();
        std::fs::write(self.dir.join(format!("{box_id}.key")), key).unwrap();
        let cert = self.ca.sign_request(&csr, 1, now).unwrap().cert_pem;
        std::fs::write(self.dir.join(format!("{box_id}.crt")), cert).unwrap();
        self.creds(&format!("{box_id}.crt"), &format!("{box_id}.key"))
    }
}

fn random_file(path: &Path, size: u64, seed: u64) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = vec![0u8; size as usize];
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    std::fs::write(path, data).unwrap();
}

fn add_file(store: &Store, path: &Path, event: &str) {
    let info = store.put_file(path).unwrap();
    let m = Manifest {
        venue: "cortina".into(),
        event: event.into(),
        captured_ms: 0,
        created_ms: 0,
        priority: Priority::Bulk,
        renditions: vec![Rendition {
            name: "clip.bin".into(),
            media_type: "application/octet-stream".into(),
            size: info.size,
            hash: info.hash,
        }],
        tags: vec![],
        captions: vec![],
        routes: vec![],
    };
    store.add(&m, &[info]).unwrap();
}

fn options(addr: std::net::SocketAddr) -> ClientOptions {
    ClientOptions {
        archive: addr,
        server_name: "127.0.0.1".into(),
        session: EdgeConfig::default(),
        until_empty: true,
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        give_up_after: Some(5),
    }
}

async fn sync(store: Arc<Store>, creds: &Credentials, addr: std::net::SocketAddr) -> ClientStatus {
    let endpoint = transport::client_endpoint(creds).unwrap();
    let status = Arc::new(Mutex::new(ClientStatus::default()));
    let (_stop, rx) = tokio::sync::watch::channel(false);
    client::run(store, endpoint.clone(), options(addr), status.clone(), rx)
        .await
        .unwrap();
    endpoint.wait_idle().await;
    let status = status.lock().unwrap();
    status.clone()
}

fn node_status(data: &Path) -> NodeStatus {
    serde_json::from_slice(&std::fs::read(data.join("status.json")).unwrap()).unwrap()
}

/// Waits for the status snapshot (written every 500 ms) to catch up.
async fn appliance_stream_bytes(data: &Path, box_id: &str) -> u64 {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    node_status(data).appliances[&format!("urn:piste:appliance:cortina:{box_id}")].stream_bytes
}

/// The baseline: the same bytes over TLS 1.3 on TCP with rustls and tokio, the receiver
/// writing them to a file and fsyncing it, as the archive does.
async fn tls_tcp_copy(
    server: &Credentials,
    client: &Credentials,
    file: &Path,
    out: &Path,
) -> Duration {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(server).unwrap()));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls::client_config(client).unwrap()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let out = out.to_owned();
    let receiver = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut f = tokio::fs::File::create(&out).await.unwrap();
        let mut buf = vec![0u8; MIB as usize];
        loop {
            let n = tls.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n]).await.unwrap();
        }
        f.sync_all().await.unwrap();
        tls.write_all(b"k").await.unwrap();
        tls.shutdown().await.unwrap();
    });
    let start = Instant::now();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let mut f = tokio::fs::File::open(file).await.unwrap();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = f.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await.unwrap();
    }
    let (mut read, mut write) = tokio::io::split(tls);
    write.shutdown().await.unwrap();
    let mut ack = [0u8; 1];
    read.read_exact(&mut ack).await.unwrap();
    let t = start.elapsed();
    receiver.await.unwrap();
    t
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let now = time::OffsetDateTime::now_utc();
    let ca = Ca::init(&dir.join("ca"), "bench", 1, now).unwrap();
    let (issued, key) = ca
        .server_cert("central", &["127.0.0.1".into()], 1, now)
        .unwrap();
    std::fs::write(dir.join("server.crt"), issued.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    let fleet = Fleet {
        dir: dir.clone(),
        ca,
    };
    let server_creds = fleet.creds("server.crt", "server.key");

    let data = dir.join("archive");
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    let serve_options = ServeOptions {
        data: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        name: "central".into(),
        ca: dir.join("ca/ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        crl: None,
    };
    let blobs = BlobStore::fs(data.join("blobs")).unwrap();
    tokio::spawn(piste_archive::serve(serve_options, blobs, stop_rx));
    while !data.join("listen.addr").exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr: std::net::SocketAddr = std::fs::read_to_string(data.join("listen.addr"))
        .unwrap()
        .parse()
        .unwrap();

    // 1. Bulk throughput, beside TLS over TCP.
    let size = 192 * MIB;
    let file = dir.join("bulk.bin");
    random_file(&file, size, 1);
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for round in 0..3 {
        let store = Arc::new(
            Store::open(
                &dir.join(format!("edge-bulk-{round}")),
                StoreOptions::default(),
            )
            .unwrap(),
        );
        add_file(&store, &file, &format!("bulk-{round}"));
        // A fresh archive blob each round: drop what the previous round stored.
        let _ = std::fs::remove_dir_all(data.join("blobs"));
        std::fs::create_dir_all(data.join("blobs")).unwrap();
        let creds = fleet.appliance(&format!("bulk-{round}"));
        let start = Instant::now();
        let status = sync(store, &creds, addr).await;
        ours.push(start.elapsed());
        assert_eq!(status.archived, 1);
        base.push(tls_tcp_copy(&server_creds, &creds, &file, &dir.join("copy.bin")).await);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (t_ours, t_base) = (median(&mut ours), median(&mut base));
    let mbps = |t: Duration| size as f64 * 8.0 / t.as_secs_f64() / 1e6;
    println!(
        "bulk sync, {} MiB over QUIC loopback, median of 3:",
        size / MIB
    );
    println!(
        "  piste sync          {:>7.0} Mbit/s  ({:.2} s)",
        mbps(t_ours),
        t_ours.as_secs_f64()
    );
    println!(
        "  TLS over TCP copy   {:>7.0} Mbit/s  ({:.2} s)",
        mbps(t_base),
        t_base.as_secs_f64()
    );
    println!(
        "  ratio               {:>7.2}  (target >= 0.7)",
        t_base.as_secs_f64() / t_ours.as_secs_f64()
    );

    // 2. Bytes crossing the wire again after the appliance dies mid-file.
    let size = 64 * MIB;
    let clean_file = dir.join("clean.bin");
    let kill_file = dir.join("kill.bin");
    random_file(&clean_file, size, 2);
    random_file(&kill_file, size, 3);
    let clean_store =
        Arc::new(Store::open(&dir.join("edge-clean"), StoreOptions::default()).unwrap());
    add_file(&clean_store, &clean_file, "resume");
    sync(clean_store, &fleet.appliance("clean"), addr).await;
    let clean = appliance_stream_bytes(&data, "clean").await;

    let kill_creds = fleet.appliance("killed");
    let kill_store =
        Arc::new(Store::open(&dir.join("edge-kill"), StoreOptions::default()).unwrap());
    add_file(&kill_store, &kill_file, "resume");
    let task = {
        let store = kill_store.clone();
        let endpoint = transport::client_endpoint(&kill_creds).unwrap();
        let mut opts = options(addr);
        opts.until_empty = false;
        opts.session.rate = Some(100_000_000);
        tokio::spawn(async move {
            let (_stop, rx) = tokio::sync::watch::channel(false);
            let _ = client::run(
                store,
                endpoint,
                opts,
                Arc::new(Mutex::new(ClientStatus::default())),
                rx,
            )
            .await;
            std::future::pending::<()>().await;
        })
    };
    let uri = "urn:piste:appliance:cortina:killed";
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let st = node_status(&data);
        if st
            .appliances
            .get(uri)
            .is_some_and(|a| a.bytes_received >= size / 2)
        {
            break;
        }
    }
    // The appliance dies: its task, endpoint and connection vanish without a goodbye.
    task.abort();
    let _ = task.await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sync(kill_store, &kill_creds, addr).await;
    let killed = appliance_stream_bytes(&data, "killed").await;
    let resent = killed.saturating_sub(clean);
    println!(
        "resume after a kill mid-file ({} MiB, killed at half):",
        size / MIB
    );
    println!("  bytes on the wire, clean run   {clean}");
    println!("  bytes on the wire, killed run  {killed}");
    println!(
        "  sent again                     {resent} ({:.2} chunks; target <= 1 chunk)",
        resent as f64 / MIB as f64
    );

    // 3. Small assets (metadata only) per second, beside bare durable redb commits.
    let n = 600u64;
    let store = Arc::new(Store::open(&dir.join("edge-small"), StoreOptions::default()).unwrap());
    for i in 0..n {
        let m = Manifest {
            venue: "cortina".into(),
            event: format!("moment-{i}"),
            captured_ms: i,
            created_ms: i,
            priority: Priority::Metadata,
            renditions: vec![],
            tags: vec![Tag {
                label: "jump".into(),
                confidence: 0.9,
            }],
            captions: vec![],
            routes: vec![],
        };
        store.add(&m, &[]).unwrap();
    }
    let start = Instant::now();
    let status = sync(store, &fleet.appliance("small"), addr).await;
    let t_small = start.elapsed();
    assert_eq!(status.archived, n);
    let db = redb::Database::create(dir.join("bare.redb")).unwrap();
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");
    let start = Instant::now();
    for i in 0..n {
        let mut txn = db.begin_write().unwrap();
        txn.set_durability(redb::Durability::Immediate).unwrap();
        txn.set_two_phase_commit(true);
        txn.open_table(T)
            .unwrap()
            .insert(i, [0u8; 200].as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let t_bare = start.elapsed();
    let rate = |t: Duration| n as f64 / t.as_secs_f64();
    println!("small assets, {n} metadata-only assets:");
    println!("  piste sync              {:>7.0} assets/s", rate(t_small));
    println!(
        "  bare durable redb commits {:>5.0} commits/s (one per asset; sync makes two, edge and archive)",
        rate(t_bare)
    );
    println!(
        "  ratio                   {:>7.2}",
        rate(t_small) / rate(t_bare)
    );

    let json = serde_json::json!({
        "bulk_mbit_s": mbps(t_ours), "tls_tcp_mbit_s": mbps(t_base), "bulk_ratio": t_base.as_secs_f64() / t_ours.as_secs_f64(),
        "resent_bytes_after_kill": resent, "chunk_bytes": MIB,
        "small_assets_per_s": rate(t_small), "bare_commits_per_s": rate(t_bare),
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("sync.json"),
        serde_json::to_vec_pretty(&json).unwrap(),
    )
    .unwrap();
}
