//! The QUIC transport: endpoints sized for a 1 Gbit/s, 50 ms link, frames over one
//! bidirectional stream, and errors explained in words.

use crate::tls::{self, Credentials, TlsError};
use crate::wire::{self, Frame, WireError};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{
    ConnectionError, Endpoint, IdleTimeout, RecvStream, SendStream, TransportConfig, VarInt,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Transport failures, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The socket could not be opened.
    #[error("socket {addr}: {source}")]
    Socket {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The connection failed or ended.
    #[error("{0}")]
    Connection(String),
    /// The peer sent bytes that are not a frame.
    #[error("peer sent a bad frame: {0}")]
    Wire(#[from] WireError),
}

/// Windows and timers for a 1 Gbit/s link with 50 ms of round trip (6.25 MB in flight),
/// with keep-alives well inside the 30 s that NATs commonly keep a UDP mapping.
pub fn transport_config() -> TransportConfig {
    let mut t = TransportConfig::default();
    let bdp: u32 = 1_000_000_000 / 8 / 20;
    t.stream_receive_window(VarInt::from_u32(2 * bdp));
    t.receive_window(VarInt::from_u32(4 * bdp));
    t.send_window(4 * bdp as u64);
    t.keep_alive_interval(Some(Duration::from_secs(10)));
    t.max_idle_timeout(Some(
        IdleTimeout::try_from(Duration::from_secs(30)).expect("30 s is a valid idle timeout"),
    ));
    t.max_concurrent_bidi_streams(VarInt::from_u32(4));
    // Probe up to jumbo frames (9000-byte Ethernet, less IP and UDP headers): venue and
    // data-centre links often have them, and path MTU discovery falls back where not.
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(8952);
    t.mtu_discovery_config(Some(mtu));
    t.max_concurrent_uni_streams(VarInt::from_u32(0));
    t
}

/// A quinn server configuration from the archive's credentials.
pub fn server_config(creds: &Credentials) -> Result<quinn::ServerConfig, TransportError> {
    let crypto = QuicServerConfig::try_from(tls::server_config(creds)?)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// The archive's endpoint, listening on `addr`. With the same `reset_secret` across
/// restarts, a restarted archive answers packets of connections it lost with stateless
/// resets that appliances recognise, so they reconnect at once instead of waiting out the
/// idle timeout.
pub fn server_endpoint(
    addr: SocketAddr,
    creds: &Credentials,
    reset_secret: &[u8; 32],
) -> Result<Endpoint, TransportError> {
    let socket_err = |source| TransportError::Socket { addr, source };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, reset_secret);
    let config = quinn::EndpointConfig::new(Arc::new(key));
    let socket = std::net::UdpSocket::bind(addr).map_err(socket_err)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| TransportError::Connection("no async runtime for the endpoint".into()))?;
    Endpoint::new(config, Some(server_config(creds)?), socket, runtime).map_err(socket_err)
}

/// Loads the stateless-reset secret kept at `path`, making it (mode 0600) the first time.
pub fn reset_secret(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    use ring::rand::{SecureRandom, SystemRandom};
    if let Ok(bytes) = std::fs::read(path)
        && let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    SystemRandom::new()
        .fill(&mut secret)
        .map_err(|_| std::io::Error::other("the system random source failed"))?;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&secret)?;
    file.sync_all()?;
    Ok(secret)
}

/// The appliance's endpoint, with its credentials as the default client configuration.
pub fn client_endpoint(creds: &Credentials) -> Result<Endpoint, TransportError> {
    let crypto = QuicClientConfig::try_from(tls::client_config(creds)?)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config()));
    let addr: SocketAddr = "0.0.0.0:0".parse().expect("a valid address");
    let mut endpoint =
        Endpoint::client(addr).map_err(|source| TransportError::Socket { addr, source })?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// The identity in the peer's certificate, if it has one.
pub fn peer_identity(conn: &quinn::Connection) -> Option<crate::pki::Identity> {
    let certs = conn
        .peer_identity()?
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    crate::pki::identity_of(certs.first()?)
        .ok()
        .map(|(id, _)| id)
}

/// TLS alerts by number, as RFC 8446 names them.
fn alert_name(code: u64) -> Option<&'static str> {
    Some(match code {
        40 => "handshake failure",
        42 => "bad certificate",
        43 => "unsupported certificate",
        44 => "certificate revoked",
        45 => "certificate expired",
        46 => "certificate unknown",
        48 => "unknown certificate authority",
        49 => "access denied",
        51 => "decrypt error",
        109 => "missing extension",
        116 => "certificate required",
        120 => "no application protocol",
        _ => return None,
    })
}

/// Explains a connection error, naming the TLS alert where there is one.
pub fn explain(err: &ConnectionError) -> String {
    let alert = |code: u64| {
        let alert = code & 0xff;
        let name = alert_name(alert).unwrap_or("alert");
        let hint = match alert {
            44 => ": this appliance's certificate was revoked; enrol it again",
            45 => ": a certificate has expired; renew it with `piste pki sign`",
            48 => ": the certificates do not chain to the same fleet CA",
            42 | 46 | 116 => ": the peer does not accept this certificate",
            _ => "",
        };
        format!("TLS handshake refused ({name}, alert {alert}){hint}")
    };
    match err {
        ConnectionError::TransportError(t) if (0x100..0x200).contains(&u64::from(t.code)) => {
            format!("{}; {}", alert(u64::from(t.code)), t.reason)
        }
        ConnectionError::ConnectionClosed(c)
            if (0x100..0x200).contains(&u64::from(c.error_code)) =>
        {
            let reason = String::from_utf8_lossy(&c.reason);
            if reason.is_empty() {
                alert(u64::from(c.error_code))
            } else {
                format!("{}; {reason}", alert(u64::from(c.error_code)))
            }
        }
        ConnectionError::ApplicationClosed(c) => {
            format!("closed by peer: {}", String::from_utf8_lossy(&c.reason))
        }
        ConnectionError::TimedOut => "the peer stopped answering (idle timeout)".into(),
        other => other.to_string(),
    }
}

/// Reads frames from a stream.
#[derive(Debug)]
pub struct FrameReader {
    recv: RecvStream,
    buf: Vec<u8>,
    /// Bytes read off the stream so far, frame prefixes and bodies alike.
    pub bytes_read: u64,
}

impl FrameReader {
    /// Wraps a stream.
    pub fn new(recv: RecvStream) -> FrameReader {
        FrameReader {
            recv,
            buf: Vec::new(),
            bytes_read: 0,
        }
    }

    /// The next frame; `None` when the peer finished the stream cleanly.
    pub async fn read(&mut self) -> Result<Option<Frame>, TransportError> {
        let mut prefix = [0u8; 4];
        match self.recv.read_exact(&mut prefix).await {
            Ok(()) => {}
            Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
            Err(e) => return Err(read_error(e)),
        }
        self.bytes_read += 4;
        let len = wire::body_len(prefix)?;
        // A chunk's data is read straight into its own buffer; other frames are decoded.
        let head = len.min(wire::MAX_CHUNK_HEADER);
        self.buf.resize(head, 0);
        self.fill(0, head).await?;
        if let Some((blob, index, data_len, header_len)) = wire::parse_chunk_header(&self.buf)
            && header_len + data_len == len
        {
            let mut data = Vec::with_capacity(data_len);
            data.extend_from_slice(&self.buf[header_len..]);
            data.resize(data_len, 0);
            let start = head - header_len;
            let mut got = start;
            while got < data_len {
                got += self.read_some(&mut data[got..], got).await?;
            }
            return Ok(Some(Frame::Chunk { blob, index, data }));
        }
        self.buf.resize(len, 0);
        self.fill(head, len).await?;
        Ok(Some(wire::decode(&self.buf)?))
    }
}

impl FrameReader {
    /// Reads `self.buf[from..to]` in full.
    async fn fill(&mut self, from: usize, to: usize) -> Result<(), TransportError> {
        let mut got = from;
        while got < to {
            let mut buf = std::mem::take(&mut self.buf);
            let n = self.read_some(&mut buf[got..to], got).await;
            self.buf = buf;
            got += n?;
        }
        Ok(())
    }

    /// Reads some bytes; counts them, since bytes of a frame a lost connection cuts short
    /// crossed the wire too.
    async fn read_some(
        &mut self,
        buf: &mut [u8],
        into_frame: usize,
    ) -> Result<usize, TransportError> {
        match self.recv.read(buf).await {
            Ok(Some(n)) => {
                self.bytes_read += n as u64;
                Ok(n)
            }
            Ok(None) => Err(read_error(quinn::ReadExactError::FinishedEarly(into_frame))),
            Err(e) => Err(read_error(quinn::ReadExactError::ReadError(e))),
        }
    }
}

fn read_error(e: quinn::ReadExactError) -> TransportError {
    match e {
        quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(c)) => {
            TransportError::Connection(explain(&c))
        }
        quinn::ReadExactError::FinishedEarly(n) => TransportError::Connection(format!(
            "peer ended the stream inside a frame ({n} bytes in)"
        )),
        other => TransportError::Connection(other.to_string()),
    }
}

/// Writes frames to a stream.
#[derive(Debug)]
pub struct FrameWriter {
    send: SendStream,
}

fn write_error(e: quinn::WriteError) -> TransportError {
    match e {
        quinn::WriteError::ConnectionLost(c) => TransportError::Connection(explain(&c)),
        other => TransportError::Connection(other.to_string()),
    }
}

impl FrameWriter {
    /// Wraps a stream.
    pub fn new(send: SendStream) -> FrameWriter {
        FrameWriter { send }
    }

    /// Sends one frame.
    pub async fn write(&mut self, frame: &Frame) -> Result<(), TransportError> {
        self.send
            .write_all(&wire::encode(frame))
            .await
            .map_err(write_error)
    }

    /// Sends a `Chunk` frame from its header and the file's bytes, handing the bytes to
    /// quinn without copying them.
    pub async fn write_chunk(
        &mut self,
        header: &[u8],
        data: Vec<u8>,
    ) -> Result<(), TransportError> {
        self.send.write_all(header).await.map_err(write_error)?;
        let mut chunks = [bytes::Bytes::from(data)];
        self.send
            .write_all_chunks(&mut chunks)
            .await
            .map_err(write_error)
    }

    /// Finishes the stream and waits until the peer has everything.
    pub async fn finish(mut self) {
        if self.send.finish().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), self.send.stopped()).await;
        }
    }
}
