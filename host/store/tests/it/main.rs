//! Integration tests of the appliance store: catalog, outbox, quota and verification.

mod store;
