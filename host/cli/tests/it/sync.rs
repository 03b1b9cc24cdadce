//! The appliance-to-archive path through the real binary over QUIC on loopback: the fleet
//! PKI, exactly-once delivery through SIGKILLs of either side, and every refused peer.

use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_piste")
}

/// Runs `piste` to completion, killed if it outlives `limit`. Returns (success, stdout, stderr).
fn piste_within(limit: Duration, args: &[&str]) -> (bool, String, String) {
    piste_env(&Backend::Fs, limit, args)
}

/// As [`piste_within`], with a blob-store backend's environment.
fn piste_env(backend: &Backend, limit: Duration, args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .envs(backend.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("piste starts");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.is_some(),
        "piste {args:?} ran past {limit:?}\n{out}\n{err}"
    );
    (status.unwrap().success(), out, err)
}

fn piste(args: &[&str]) -> String {
    let (ok, out, err) = piste_within(Duration::from_secs(60), args);
    assert!(ok, "piste {args:?} failed:\n{out}\n{err}");
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Where the archive keeps blobs in a test: its own directory, or S3 on a moto server that
/// the test starts on loopback.
enum Backend {
    Fs,
    S3 { server: Child, port: u16 },
}

impl Backend {
    /// A moto S3 server with a bucket `piste`, or `None` (and why) when moto is not installed
    /// and the run does not require it (`cargo xtask test` does).
    fn s3() -> Option<Backend> {
        let port = free_tcp_port();
        let tools = std::env::var_os("PISTE_TOOLS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools"));
        let installed = tools.join("venv/bin/moto_server");
        let program = if installed.is_file() {
            installed
        } else {
            PathBuf::from("moto_server")
        };
        let spawned = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let server = match spawned {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("PISTE_REQUIRE_MOTO").is_none(),
                    "moto_server is required: {e}"
                );
                eprintln!(
                    "skipping the S3 half: moto_server not found ({e}); `cargo xtask setup` installs it"
                );
                return None;
            }
        };
        let backend = Backend::S3 { server, port };
        let start = Instant::now();
        loop {
            // Creating the bucket is also how we learn the server is up.
            if let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Write;
                let req = format!(
                    "PUT /piste HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                tcp.write_all(req.as_bytes()).unwrap();
                let mut answer = String::new();
                let _ = tcp.read_to_string(&mut answer);
                assert!(
                    answer.starts_with("HTTP/1.1 200"),
                    "creating the bucket: {answer}"
                );
                return Some(backend);
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        match self {
            Backend::Fs => vec![],
            Backend::S3 { port, .. } => [
                ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}")),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_ALLOW_HTTP", "true".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    }

    /// The extra arguments of `piste archive` commands.
    fn args(&self) -> Vec<&'static str> {
        match self {
            Backend::Fs => vec![],
            Backend::S3 { .. } => vec!["--s3", "s3://piste/node-1"],
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::S3 { server, .. } = self {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fleet CA, an archive's PKI directory, and a way to enrol appliances.
struct Fleet {
    root: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        let root = tempfile::tempdir().unwrap();
        let f = Fleet { root };
        piste(&["pki", "init", "--ca", s(&f.ca())]);
        piste(&[
            "pki",
            "server",
            "--ca",
            s(&f.ca()),
            "--name",
            "central",
            "--host",
            "127.0.0.1",
            "--out",
            s(&f.archive_pki()),
        ]);
        f
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn ca(&self) -> PathBuf {
        self.path("ca")
    }

    fn archive_pki(&self) -> PathBuf {
        self.path("archive-pki")
    }

    /// Enrols an appliance with this fleet's CA; returns its PKI directory.
    fn enroll(&self, venue: &str, box_id: &str) -> PathBuf {
        enroll_with(
            &self.ca(),
            &self.path(&format!("{venue}-{box_id}")),
            venue,
            box_id,
        )
    }
}

fn enroll_with(ca: &Path, dir: &Path, venue: &str, box_id: &str) -> PathBuf {
    piste(&[
        "pki",
        "enroll",
        "--venue",
        venue,
        "--box",
        box_id,
        "--out",
        s(dir),
    ]);
    let out = piste(&[
        "pki",
        "sign",
        "--ca",
        s(ca),
        s(&dir.join("appliance.csr")),
        "--out",
        s(&dir.join("appliance.crt")),
    ]);
    assert!(
        out.contains(&format!("appliance {box_id} of venue {venue}")),
        "{out}"
    );
    std::fs::copy(ca.join("ca.crt"), dir.join("ca.crt")).unwrap();
    dir.to_owned()
}

/// A free UDP port on loopback.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `piste archive serve`, killed (SIGKILL) on drop.
struct ArchiveNode {
    child: Child,
    log: PathBuf,
    addr: String,
}

impl ArchiveNode {
    fn start(data: &Path, pki: &Path, port: u16, log: &Path) -> ArchiveNode {
        ArchiveNode::start_on(&Backend::Fs, data, pki, port, log)
    }

    fn start_on(backend: &Backend, data: &Path, pki: &Path, port: u16, log: &Path) -> ArchiveNode {
        let _ = std::fs::remove_file(data.join("listen.addr"));
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(bin())
            .args([
                "archive",
                "serve",
                "--data",
                s(data),
                "--pki",
                s(pki),
                "--listen",
                &listen,
                "--name",
                "central",
            ])
            .args(backend.args())
            .envs(backend.env())
            .stdout(Stdio::null())
            .stderr(logfile)
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !data.join("listen.addr").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "archive did not start:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ArchiveNode {
            child,
            log: log.to_owned(),
            addr: listen,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ArchiveNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Deterministic pseudo-random bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Pushes `n` assets of mixed classes and sizes; returns their ids.
fn push_assets(store: &Path, files: &Path, venue: &str, n: u64, seed: u64) -> Vec<String> {
    std::fs::create_dir_all(files).unwrap();
    (0..n)
        .map(|i| {
            let (priority, size) = match i % 4 {
                0 => ("metadata", 300),
                1 => ("render", 2_500_000 + (i as usize * 7919) % 1_000_000),
                2 => ("render", 700_000),
                _ => ("bulk", 4_200_000),
            };
            let f = files.join(format!("asset-{seed}-{i}.bin"));
            std::fs::write(&f, bytes(seed * 1000 + i, size)).unwrap();
            piste(&[
                "sync",
                "push",
                "--store",
                s(store),
                "--venue",
                venue,
                "--event",
                &format!("e{i}"),
                "--priority",
                priority,
                s(&f),
            ])
            .trim()
            .to_owned()
        })
        .collect()
}

fn store_states(store: &Path) -> Vec<(String, String)> {
    let json: serde_json::Value =
        serde_json::from_str(&piste(&["store", "ls", "--store", s(store), "--json"])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let state = if a["state"] == "pending" {
                "pending"
            } else {
                "archived"
            };
            (a["id"].as_str().unwrap().to_owned(), state.to_owned())
        })
        .collect()
}

/// After the archive has stopped: every asset is there exactly once and every file verifies.
fn check_archive(backend: &Backend, data: &Path, ids: &[String], appliance: &str) {
    let run = |args: &[&str]| {
        let args: Vec<&str> = args.iter().copied().chain(backend.args()).collect();
        let (ok, out, err) = piste_env(backend, Duration::from_secs(120), &args);
        assert!(ok, "{args:?}: {out}\n{err}");
        out
    };
    let out = run(&["archive", "verify", "--data", s(data)]);
    assert!(
        out.contains(&format!("checked {} assets", ids.len())) && out.contains("no damage"),
        "{out}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&piste(&["archive", "status", "--data", s(data), "--json"])).unwrap();
    assert_eq!(status["assets"], ids.len() as u64, "{status}");
    assert_eq!(
        status["appliances"][appliance]["assets_received"],
        ids.len() as u64,
        "each asset committed exactly once: {status}"
    );
}

fn sync_once(store: &Path, pki: &Path, addr: &str) -> (bool, String, String) {
    piste_within(
        Duration::from_secs(120),
        &[
            "sync",
            "run",
            "--store",
            s(store),
            "--pki",
            s(pki),
            "--archive",
            addr,
            "--once",
        ],
    )
}

#[test]
fn assets_reach_the_archive_exactly_once_and_verify_on_the_filesystem() {
    assets_reach_the_archive_exactly_once_and_verify(&Backend::Fs);
}

#[test]
fn assets_reach_the_archive_exactly_once_and_verify_on_s3() {
    if let Some(backend) = Backend::s3() {
        assets_reach_the_archive_exactly_once_and_verify(&backend);
    }
}

fn assets_reach_the_archive_exactly_once_and_verify(backend: &Backend) {
    let fleet = Fleet::new();
    let pki = fleet.enroll("cortina", "box-1");
    let store = fleet.path("store");
    let data = fleet.path("archive");
    let ids = push_assets(&store, &fleet.path("files"), "cortina", 8, 1);
    let mut node = ArchiveNode::start_on(
        backend,
        &data,
        &fleet.archive_pki(),
        free_port(),
        &fleet.path("archive.log"),
    );
    let (ok, out, err) = sync_once(&store, &pki, &node.addr);
    assert!(ok, "{out}\n{err}\n{}", node.log());
    assert!(out.contains("archived 8 assets"), "{out}");
    assert!(store_states(&store).iter().all(|(_, st)| st == "archived"));
    // The status page while it runs, from its snapshot.
    std::thread::sleep(Duration::from_millis(700));
    let status = piste(&["archive", "status", "--data", s(&data)]);
    assert!(
        status.contains("urn:piste:appliance:cortina:box-1"),
        "{status}"
    );
    // A second run has nothing to send and says so.
    let (ok, out, _) = sync_once(&store, &pki, &node.addr);
    assert!(ok && out.contains("archived 0 assets"), "{out}");
    node.kill();
    check_archive(backend, &data, &ids, "urn:piste:appliance:cortina:box-1");
    // The edge store itself verifies too.
    assert!(piste(&["store", "verify", "--store", s(&store)]).contains("no damage"));
}

#[test]
fn killing_the_edge_or_the_archive_loses_nothing_on_the_filesystem() {
    killing_the_edge_or_the_archive_loses_nothing_and_duplicates_nothing(&Backend::Fs);
}

#[test]
fn killing_the_edge_or_the_archive_loses_nothing_on_s3() {
    if let Some(backend) = Backend::s3() {
        killing_the_edge_or_the_archive_loses_nothing_and_duplicates_nothing(&backend);
    }
}

fn killing_the_edge_or_the_archive_loses_nothing_and_duplicates_nothing(backend: &Backend) {
    let fleet = Fleet::new();
    let pki = fleet.enroll("cortina", "box-2");
    let store = fleet.path("store");
    let data = fleet.path("archive");
    let log = fleet.path("archive.log");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut ids = push_assets(&store, &fleet.path("files"), "cortina", 24, 2);
    let mut rng = bytes(99, 64).into_iter().cycle();
    let mut pause = || Duration::from_millis(150 + 10 * rng.next().unwrap() as u64 % 500);
    let sync_run = || {
        Command::new(bin())
            .args([
                "sync",
                "run",
                "--store",
                s(&store),
                "--pki",
                s(&pki),
                "--archive",
                &addr,
                "--rate",
                "4M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // The edge, killed at random points while it syncs.
    let mut node = ArchiveNode::start_on(backend, &data, &fleet.archive_pki(), port, &log);
    for _ in 0..15 {
        let mut edge = sync_run();
        std::thread::sleep(pause());
        edge.kill().unwrap();
        edge.wait().unwrap();
    }
    let pending = store_states(&store)
        .iter()
        .filter(|(_, st)| st == "pending")
        .count();
    assert!(
        pending > 0,
        "the kills interrupted the sync (or the test proves nothing)"
    );

    // The archive, killed at random points while the edge syncs; it restarts on the same port.
    ids.extend(push_assets(&store, &fleet.path("files2"), "cortina", 20, 3));
    let mut edge = sync_run();
    for _ in 0..12 {
        std::thread::sleep(pause());
        node.kill();
        node = ArchiveNode::start_on(backend, &data, &fleet.archive_pki(), port, &log);
    }
    let _ = edge.kill();
    let _ = edge.wait();

    // Then a clean run drains the outbox.
    let (ok, out, err) = sync_once(&store, &pki, &addr);
    assert!(ok, "{out}\n{err}");
    assert!(
        store_states(&store).iter().all(|(_, st)| st == "archived"),
        "the outbox is empty"
    );
    node.kill();
    check_archive(backend, &data, &ids, "urn:piste:appliance:cortina:box-2");
    // Nothing is left in staging but files the kills interrupted for good: none here.
    let staged: usize = std::fs::read_dir(data.join("staging"))
        .unwrap()
        .flatten()
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum();
    assert_eq!(staged, 0, "staging is empty once everything is stored");
}

#[test]
fn peers_without_a_valid_certificate_are_refused_clearly() {
    let fleet = Fleet::new();
    let data = fleet.path("archive");
    let node = ArchiveNode::start(
        &data,
        &fleet.archive_pki(),
        free_port(),
        &fleet.path("archive.log"),
    );
    let store = fleet.path("store");
    push_assets(&store, &fleet.path("files"), "cortina", 1, 4);

    // A certificate from another CA.
    let other_ca = fleet.path("other-ca");
    piste(&["pki", "init", "--ca", s(&other_ca)]);
    let rogue = enroll_with(&other_ca, &fleet.path("rogue"), "cortina", "box-9");
    // It trusts the real fleet CA for the server, so only its own certificate is wrong.
    std::fs::copy(fleet.ca().join("ca.crt"), rogue.join("ca.crt")).unwrap();
    let (ok, _, err) = sync_once(&store, &rogue, &node.addr);
    assert!(!ok, "{err}");
    assert!(
        err.contains("gave up after 3 failed attempts") && err.contains("TLS handshake refused"),
        "{err}"
    );
    assert!(
        node.log().contains("refused a connection"),
        "{}",
        node.log()
    );

    // An expired certificate, signed by the right CA.
    let expired = fleet.path("expired");
    piste(&[
        "pki",
        "enroll",
        "--venue",
        "cortina",
        "--box",
        "box-8",
        "--out",
        s(&expired),
    ]);
    let csr = std::fs::read_to_string(expired.join("appliance.csr")).unwrap();
    let mut params = rcgen::CertificateSigningRequestParams::from_pem(&csr).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.params.not_before = now - time::Duration::days(30);
    params.params.not_after = now - time::Duration::days(1);
    params.params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(fleet.ca().join("ca.key")).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &std::fs::read_to_string(fleet.ca().join("ca.crt")).unwrap(),
        key,
    )
    .unwrap();
    std::fs::write(
        expired.join("appliance.crt"),
        params.signed_by(&issuer).unwrap().pem(),
    )
    .unwrap();
    std::fs::copy(fleet.ca().join("ca.crt"), expired.join("ca.crt")).unwrap();
    let (ok, _, err) = sync_once(&store, &expired, &node.addr);
    assert!(!ok);
    assert!(err.contains("TLS handshake refused"), "{err}");
    assert!(
        node.log().contains("certificate expired"),
        "the archive's log names the reason:\n{}",
        node.log()
    );

    // A revoked certificate: it works until the CRL reaches the archive.
    let pki = fleet.enroll("cortina", "box-1");
    let (ok, out, err) = sync_once(&store, &pki, &node.addr);
    assert!(ok, "{out}{err}");
    piste(&[
        "pki",
        "revoke",
        "--ca",
        s(&fleet.ca()),
        "--cert",
        s(&pki.join("appliance.crt")),
    ]);
    std::fs::copy(
        fleet.ca().join("crl.pem"),
        fleet.archive_pki().join("crl.pem"),
    )
    .unwrap();
    let start = Instant::now();
    while !node.log().contains("revocation list reloaded") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the archive reloads the CRL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    push_assets(&store, &fleet.path("files2"), "cortina", 1, 5);
    let (ok, _, err) = sync_once(&store, &pki, &node.addr);
    assert!(!ok);
    assert!(err.contains("certificate revoked"), "{err}");
    assert!(node.log().contains("certificate revoked"), "{}", node.log());

    // A valid appliance of another venue may not write this venue's assets.
    let other = fleet.enroll("val-di-fiemme", "box-1");
    let (ok, _, err) = sync_once(&store, &other, &node.addr);
    assert!(!ok);
    assert!(
        err.contains("may not write assets of venue \"cortina\""),
        "{err}"
    );
    assert!(node.log().contains("refused an asset"), "{}", node.log());
}

#[test]
fn certificates_from_an_outside_openssl_ca_work_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ca.key",
    ]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=Outside CA",
        "-days",
        "30",
        "-out",
        "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    // The archive's certificate.
    std::fs::create_dir_all(d("apki")).unwrap();
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "apki/archive.key",
    ]);
    openssl(&[
        "req",
        "-new",
        "-key",
        "apki/archive.key",
        "-subj",
        "/CN=central",
        "-out",
        "archive.csr",
    ]);
    std::fs::write(d("server.ext"), "subjectAltName=IP:127.0.0.1,URI:urn:piste:archive:central\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "archive.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "server.ext",
        "-out",
        "apki/archive.crt",
    ]);
    std::fs::copy(d("ca.crt"), d("apki/ca.crt")).unwrap();
    // The appliance makes its own key and request with piste; the outside CA signs it.
    piste(&[
        "pki",
        "enroll",
        "--venue",
        "cortina",
        "--box",
        "box-5",
        "--out",
        s(&d("epki")),
    ]);
    std::fs::write(d("client.ext"), "subjectAltName=URI:urn:piste:appliance:cortina:box-5\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "epki/appliance.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "client.ext",
        "-out",
        "epki/appliance.crt",
    ]);
    std::fs::copy(d("ca.crt"), d("epki/ca.crt")).unwrap();

    let node = ArchiveNode::start(&d("data"), &d("apki"), free_port(), &d("archive.log"));
    let ids = push_assets(&d("store"), &d("files"), "cortina", 3, 6);
    let (ok, out, err) = sync_once(&d("store"), &d("epki"), &node.addr);
    assert!(ok, "{out}\n{err}\n{}", node.log());
    assert!(
        out.contains(&format!("archived {} assets", ids.len())),
        "{out}"
    );
}

#[test]
fn push_and_status_reach_a_running_sync_loop() {
    let fleet = Fleet::new();
    let pki = fleet.enroll("cortina", "box-3");
    let store = fleet.path("store");
    let node = ArchiveNode::start(
        &fleet.path("archive"),
        &fleet.archive_pki(),
        free_port(),
        &fleet.path("archive.log"),
    );
    push_assets(&store, &fleet.path("files"), "cortina", 1, 7);
    let mut run = Command::new(bin())
        .args([
            "sync",
            "run",
            "--store",
            s(&store),
            "--pki",
            s(&pki),
            "--archive",
            &node.addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        let (ok, out, _) = piste_within(
            Duration::from_secs(20),
            &["sync", "status", "--store", s(&store), "--json"],
        );
        if ok && out.contains("\"connected\": true") {
            break out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the running loop answers status: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("\"running\": true"), "{status}");
    // A push while the loop holds the store goes through its socket and gets synced.
    let id = push_assets(&store, &fleet.path("more"), "cortina", 2, 8)
        .pop()
        .unwrap();
    let start = Instant::now();
    loop {
        let (_, out, _) = piste_within(
            Duration::from_secs(20),
            &["sync", "status", "--store", s(&store), "--json"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        if v["usage"]["pending_assets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n == 0)
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the pushed assets are synced: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(
        store_states(&store)
            .iter()
            .any(|(i, st)| i == &id && st == "archived")
    );
}
