//! The archive's listening side of the transport: accept connections, finish the mutual TLS
//! handshake, and hand out the peer's identity and its frame stream.

use crate::pki::Identity;
use crate::tls::Credentials;
use crate::transport::{self, FrameReader, FrameWriter, TransportError, explain};
use quinn::Endpoint;
use std::net::SocketAddr;

/// A listening archive endpoint.
#[derive(Debug)]
pub struct Listener {
    endpoint: Endpoint,
}

impl Listener {
    /// Listens on `addr` with the archive's credentials and stateless-reset secret
    /// (see [`transport::server_endpoint`]).
    pub fn bind(
        addr: SocketAddr,
        creds: &Credentials,
        reset_secret: &[u8; 32],
    ) -> Result<Listener, TransportError> {
        Ok(Listener {
            endpoint: transport::server_endpoint(addr, creds, reset_secret)?,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Replaces the credentials (a new CRL, say) for connections from now on.
    pub fn reload(&self, creds: &Credentials) -> Result<(), TransportError> {
        self.endpoint
            .set_server_config(Some(transport::server_config(creds)?));
        Ok(())
    }

    /// The next incoming connection; `None` once the listener is closed.
    pub async fn accept(&self) -> Option<Accepting> {
        self.endpoint.accept().await.map(Accepting)
    }

    /// Closes every connection and stops listening.
    pub fn close(&self, reason: &str) {
        self.endpoint.close(0u32.into(), reason.as_bytes());
    }
}

/// A connection whose handshake has not finished.
#[derive(Debug)]
pub struct Accepting(quinn::Incoming);

impl Accepting {
    /// Where it comes from.
    pub fn remote(&self) -> SocketAddr {
        self.0.remote_address()
    }

    /// Finishes the handshake; the error says in words why it failed (a revoked, expired or
    /// unknown certificate, none at all).
    pub async fn handshake(self) -> Result<Peer, String> {
        let conn = self.0.await.map_err(|e| explain(&e))?;
        let identity = transport::peer_identity(&conn);
        Ok(Peer { identity, conn })
    }
}

/// A connected peer whose certificate chains to the fleet CA.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The identity in its certificate, if it carries one.
    pub identity: Option<Identity>,
    conn: quinn::Connection,
}

impl Peer {
    /// Where it is.
    pub fn remote(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// A number that tells this connection from others.
    pub fn id(&self) -> usize {
        self.conn.stable_id()
    }

    /// Waits for the peer to open its frame stream.
    pub async fn accept_stream(&self) -> Result<(FrameReader, FrameWriter), String> {
        let (send, recv) = self.conn.accept_bi().await.map_err(|e| explain(&e))?;
        Ok((FrameReader::new(recv), FrameWriter::new(send)))
    }

    /// Closes the connection, telling the peer why.
    pub fn close(&self, reason: &str) {
        self.conn.close(1u32.into(), reason.as_bytes());
    }
}
