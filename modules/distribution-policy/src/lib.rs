//! `distribution-policy`: an example distributor.
//!
//! It decides, for each finished asset, which destinations get it, which
//! rendition, how urgently and from when: rights territories, embargoes (the
//! asset's own, and until the event ends for rights holders), medal moments
//! first, a boost for a rights holder following the athlete's nation, and the
//! largest rendition that fits each destination's bandwidth. The rules are in
//! [`route()`](route::route), a pure function reachable from the `rlib`; their
//! settings are the [`Policy`], read from the config.

mod policy;
pub mod route;

use piste_guest::{Asset, Decision, Destination, Distributor, Error, counter};

pub use policy::Policy;
pub use route::route;

/// The module: [`route()`](route::route) with the [`Policy`] from the config.
pub struct DistributionPolicy;

impl Distributor for DistributionPolicy {
    fn init() -> Result<(), Error> {
        Policy::from_config().map(drop)
    }

    fn route(
        asset: Asset,
        destinations: Vec<Destination>,
        now_ms: u64,
    ) -> Result<Vec<Decision>, Error> {
        let policy = Policy::from_config()?;
        let decisions = route(&asset, &destinations, now_ms, &policy);
        for destination in &destinations {
            match route::skipped(&asset, destination, &policy) {
                Some(route::Skip::Territory) => counter::increment("skipped-territory"),
                Some(route::Skip::NoRendition) => {
                    counter::increment("skipped-no-rendition");
                    piste_guest::log::warn(
                        "no rendition fits the destination and the asset has no still",
                        &[("destination", &destination.id), ("asset", &asset.id)],
                    );
                }
                None => {}
            }
        }
        counter::add("decisions", decisions.len() as u64);
        counter::add(
            "held",
            decisions
                .iter()
                .filter(|d| d.not_before_ms.is_some())
                .count() as u64,
        );
        Ok(decisions)
    }
}

piste_guest::export_distributor!(DistributionPolicy);

#[cfg(test)]
mod tests;
