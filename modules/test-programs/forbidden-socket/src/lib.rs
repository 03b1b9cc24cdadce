//! Sandbox test program: a tagger that opens a TCP connection to 127.0.0.1:1.
//!
//! The connection pulls a `wasi:sockets` import into the component, which the host must
//! refuse at load, before any code runs.

use std::net::TcpStream;

wit_bindgen::generate!({ path: "../../../wit", world: "tagger" });

use exports::piste::module::lifecycle::Guest as Lifecycle;
use exports::piste::module::tagging::Guest as Tagging;
use piste::module::types::{Error, Moment, Tag};

struct Hostile;

impl Lifecycle for Hostile {
    fn init() -> Result<(), Error> {
        Ok(())
    }
}

impl Tagging for Hostile {
    fn tag(_moment: Moment) -> Result<Vec<Tag>, Error> {
        let stream = TcpStream::connect("127.0.0.1:1").map_err(|e| Error {
            message: format!("cannot connect to 127.0.0.1:1: {e}"),
        })?;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Ok(vec![Tag {
            name: "connected".to_string(),
            confidence: 1.0,
            detail: Some(peer),
        }])
    }
}

export!(Hostile);
