//! The set of live modules by name, with atomic hot reload: a reload swaps in the new
//! version while calls already in flight finish on the old one.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::engine::Sandbox;
use crate::error::{Error, Result};
use crate::metrics::ModuleMetrics;
use crate::module::{LoadedModule, ModuleSpec};

/// The live modules of an appliance.
pub struct Registry {
    sandbox: Arc<Sandbox>,
    modules: RwLock<BTreeMap<String, Arc<LoadedModule>>>,
}

impl Registry {
    /// An empty registry over one engine.
    pub fn new(sandbox: Arc<Sandbox>) -> Self {
        Registry {
            sandbox,
            modules: RwLock::new(BTreeMap::new()),
        }
    }

    /// Loads a module and makes it live under its name, replacing any module of that name.
    /// If loading fails, the module already live (if any) stays live.
    pub fn load(&self, spec: ModuleSpec) -> Result<Arc<LoadedModule>> {
        let module = self.sandbox.load(spec)?;
        let name = module.info().name.clone();
        let old = self
            .modules
            .write()
            .expect("registry lock")
            .insert(name, module.clone());
        if let Some(old) = old {
            tracing::info!(
                module = %module.info().name,
                "reloaded: {} -> {}",
                old.info().version,
                module.info().version
            );
        }
        Ok(module)
    }

    /// Reloads a module from the spec it was loaded with (a new file at the same path, a
    /// quarantined module given another chance).
    pub fn reload(&self, name: &str) -> Result<Arc<LoadedModule>> {
        let spec = self.get(name)?.spec().clone();
        let mut spec = spec;
        spec.name = Some(name.to_string());
        self.load(spec)
    }

    /// The live module of that name. The caller's `Arc` keeps that version alive for its call.
    pub fn get(&self, name: &str) -> Result<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("registry lock")
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownModule(name.to_string()))
    }

    /// Takes a module out of service.
    pub fn unload(&self, name: &str) -> Result<()> {
        self.modules
            .write()
            .expect("registry lock")
            .remove(name)
            .map(drop)
            .ok_or_else(|| Error::UnknownModule(name.to_string()))
    }

    /// The live modules, by name.
    pub fn modules(&self) -> Vec<Arc<LoadedModule>> {
        self.modules
            .read()
            .expect("registry lock")
            .values()
            .cloned()
            .collect()
    }

    /// Every live module's figures.
    pub fn metrics(&self) -> Vec<ModuleMetrics> {
        self.modules().iter().map(|m| m.metrics()).collect()
    }
}
