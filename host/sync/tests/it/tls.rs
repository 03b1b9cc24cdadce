//! Mutual TLS on real QUIC endpoints on loopback: no client certificate is refused, and
//! early data is never accepted.

use piste_sync::pki::{self, Ca};
use piste_sync::server::Listener;
use piste_sync::tls::{self, Credentials};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

struct Pki {
    _dir: tempfile::TempDir,
    server: Credentials,
    client: Credentials,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let now = time::OffsetDateTime::now_utc();
    let ca = Ca::init(&p("ca"), "test", 10, now).unwrap();
    let (issued, key) = ca
        .server_cert("central", &["127.0.0.1".into()], 10, now)
        .unwrap();
    std::fs::write(p("server.crt"), issued.cert_pem).unwrap();
    std::fs::write(p("server.key"), key).unwrap();
    let (key, csr) = pki::enroll("cortina", "box-1").unwrap();
    std::fs::write(p("client.key"), key).unwrap();
    std::fs::write(
        p("client.crt"),
        ca.sign_request(&csr, 10, now).unwrap().cert_pem,
    )
    .unwrap();
    let ca_crt = p("ca").join("ca.crt");
    let load = |c: &str, k: &str| {
        Credentials::load(
            &ca_crt,
            &p(c),
            &p(k),
            &[Path::new(&p("ca").join("crl.pem"))],
        )
        .unwrap()
    };
    Pki {
        server: load("server.crt", "server.key"),
        client: load("client.crt", "client.key"),
        _dir: dir,
    }
}

fn client_endpoint(config: rustls::ClientConfig) -> quinn::Endpoint {
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(
        QuicClientConfig::try_from(config).unwrap(),
    )));
    ep
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_with_a_reason() {
    let pki = pki();
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), &pki.server, &[7; 32]).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.client.roots[0].clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![tls::ALPN.to_vec()];
    let ep = client_endpoint(config);
    let client = tokio::spawn(async move {
        let conn = ep.connect(addr, "127.0.0.1").unwrap().await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let _ = send.write_all(b"hello").await;
        let mut buf = [0u8; 1];
        recv.read_exact(&mut buf).await.map_err(|e| match e {
            quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(c)) => c,
            other => panic!("{other}"),
        })?;
        Ok::<_, quinn::ConnectionError>(())
    });
    let accepting = listener.accept().await.unwrap();
    let err = accepting.handshake().await.unwrap_err();
    assert!(
        err.contains("TLS handshake refused") && err.contains("certificate"),
        "{err}"
    );
    let client_err = tokio::time::timeout(Duration::from_secs(10), client)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let explained = piste_sync::transport::explain(&client_err);
    assert!(explained.contains("certificate required"), "{explained}");
}

/// Connects twice with a client that asks for 0-RTT; returns whether the second connection
/// could send early data.
async fn second_connection_offers_0rtt(server: quinn::ServerConfig, client: &Credentials) -> bool {
    let server_ep = quinn::Endpoint::server(server, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server_ep.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        while let Some(incoming) = server_ep.accept().await {
            if let Ok(conn) = incoming.await {
                tokio::spawn(async move {
                    if let Ok((mut send, mut recv)) = conn.accept_bi().await {
                        let mut b = [0u8; 1];
                        let _ = recv.read_exact(&mut b).await;
                        let _ = send.write_all(&b).await;
                        let _ = send.finish();
                        let _ = conn.closed().await;
                    }
                });
            }
        }
    });
    let mut config = tls::client_config(client).unwrap();
    config.enable_early_data = true;
    let ep = client_endpoint(config);
    // The first connection collects a session ticket.
    let conn = ep.connect(addr, "127.0.0.1").unwrap().await.unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(b"x").await.unwrap();
    let mut b = [0u8; 1];
    recv.read_exact(&mut b).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.close(0u32.into(), b"");
    let offered = ep.connect(addr, "127.0.0.1").unwrap().into_0rtt().is_ok();
    accept.abort();
    offered
}

#[tokio::test]
async fn early_data_is_never_accepted() {
    let pki = pki();
    // The archive's configuration: no 0-RTT, even to a client that resumes and asks.
    let ours = piste_sync::transport::server_config(&pki.server).unwrap();
    assert!(
        !second_connection_offers_0rtt(ours, &pki.client).await,
        "the archive accepted early data"
    );
    // The same test against a server that allows early data sees it, so it can tell.
    let mut permissive = tls::server_config(&pki.server).unwrap();
    permissive.max_early_data_size = u32::MAX;
    let permissive =
        quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(permissive).unwrap()));
    assert!(
        second_connection_offers_0rtt(permissive, &pki.client).await,
        "control: a permissive server offers 0-RTT"
    );
}
