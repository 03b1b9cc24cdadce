//! Integration tests of the `piste` binary: the module author's whole path, as the guide tells it.

mod author;
mod capture;
mod replay;
mod sync;
