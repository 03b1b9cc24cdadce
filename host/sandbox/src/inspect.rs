//! Static inspection of a component before anything is compiled: its imports and exports,
//! the world it targets, the size of its code, and the module identity section.

use serde::{Deserialize, Serialize};
use wasmtime::wasmparser::{Encoding, Parser, Payload};

use crate::error::{Error, Result};

/// The name of the custom section that carries a module's name and version
/// (written by `piste module build` and `cargo xtask modules`).
pub const INFO_SECTION: &str = "piste:module-info";

/// The three kinds of module the appliance runs, one per WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    /// Gets a moment, returns tags.
    Tagger,
    /// Gets a moment, tags and a language, returns a caption.
    Captioner,
    /// Gets an asset and destinations, returns routing decisions.
    Distributor,
}

impl World {
    /// Every world.
    pub const ALL: [World; 3] = [World::Tagger, World::Captioner, World::Distributor];

    /// The world's WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            World::Tagger => "tagger",
            World::Captioner => "captioner",
            World::Distributor => "distributor",
        }
    }

    /// The interface the world exports besides `lifecycle`.
    pub fn entry_interface(self) -> &'static str {
        match self {
            World::Tagger => "piste:module/tagging",
            World::Captioner => "piste:module/captioning",
            World::Distributor => "piste:module/routing",
        }
    }

    /// The exported function the host calls.
    pub fn entry_function(self) -> &'static str {
        match self {
            World::Tagger => "tag",
            World::Captioner => "caption",
            World::Distributor => "route",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for World {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        World::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| {
                format!("unknown world `{s}`; expected tagger, captioner or distributor")
            })
    }
}

/// A module's name and version, from its info section or its file name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// The module's name, as its crate is called.
    pub name: String,
    /// The module's version.
    pub version: String,
}

/// What a component declares, read without compiling it.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The top-level imports, by full name (for example `wasi:cli/stderr@0.2.6`).
    pub imports: Vec<String>,
    /// The top-level exports, by full name.
    pub exports: Vec<String>,
    /// The world the exports match, if any.
    pub world: Option<World>,
    /// Name and version from the info section, if present.
    pub info: Option<ModuleInfo>,
    /// The largest function body of any core module inside, in bytes.
    pub largest_function_bytes: usize,
    /// All function bodies together, in bytes.
    pub code_bytes: usize,
    /// The number of core modules inside.
    pub core_modules: usize,
}

impl Inspection {
    /// Reads a component's structure. Fails on a core module or malformed bytes.
    pub fn read(module_name: &str, wasm: &[u8]) -> Result<Self> {
        let not_component = |reason: String| Error::NotAComponent {
            module: module_name.to_string(),
            reason,
        };
        if !Parser::is_component(wasm) {
            let reason = if Parser::is_core_wasm(wasm) {
                "it is a core module; build with `--target wasm32-wasip2` to get a component"
            } else {
                "the file does not start with the WebAssembly component header"
            };
            return Err(not_component(reason.into()));
        }
        let mut out = Inspection {
            imports: Vec::new(),
            exports: Vec::new(),
            world: None,
            info: None,
            largest_function_bytes: 0,
            code_bytes: 0,
            core_modules: 0,
        };
        // Depth of nesting: 1 is the outer component, more is inside a nested module or component.
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload.map_err(|e| not_component(e.to_string()))?;
            match payload {
                Payload::Version { encoding, .. } => {
                    depth += 1;
                    if encoding == Encoding::Module {
                        out.core_modules += 1;
                    }
                }
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(reader) if depth == 1 => {
                    for import in reader {
                        let import = import.map_err(|e| not_component(e.to_string()))?;
                        out.imports.push(import.name.name.to_string());
                    }
                }
                Payload::ComponentExportSection(reader) if depth == 1 => {
                    for export in reader {
                        let export = export.map_err(|e| not_component(e.to_string()))?;
                        out.exports.push(export.name.name.to_string());
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let size = body.range().len();
                    out.code_bytes += size;
                    out.largest_function_bytes = out.largest_function_bytes.max(size);
                }
                Payload::CustomSection(section) if depth == 1 && section.name() == INFO_SECTION => {
                    out.info = serde_json::from_slice(section.data()).ok();
                }
                _ => {}
            }
        }
        out.world = World::ALL.into_iter().find(|w| {
            out.exports
                .iter()
                .any(|e| unversioned(e) == w.entry_interface())
        });
        Ok(out)
    }

    /// Checks that the component targets `expected` and exports the lifecycle interface.
    pub fn check_world(&self, module_name: &str, expected: World) -> Result<()> {
        let has_lifecycle = self
            .exports
            .iter()
            .any(|e| unversioned(e) == "piste:module/lifecycle");
        match self.world {
            Some(found) if found == expected && has_lifecycle => Ok(()),
            Some(found) if found != expected => Err(Error::WrongWorld {
                module: module_name.to_string(),
                expected: expected.to_string(),
                found: found.to_string(),
            }),
            _ => Err(Error::WrongWorld {
                module: module_name.to_string(),
                expected: expected.to_string(),
                found: if self.exports.is_empty() {
                    "no piste world (it exports nothing)".to_string()
                } else {
                    format!("no piste world (it exports {})", self.exports.join(", "))
                },
            }),
        }
    }

    /// Refuses any import outside the allowed set (see [`allowed_import`]), naming it.
    pub fn check_imports(&self, module_name: &str) -> Result<()> {
        let imports: Vec<(String, &'static str)> = self
            .imports
            .iter()
            .filter_map(|import| {
                allowed_import(import)
                    .err()
                    .map(|what| (import.clone(), what))
            })
            .collect();
        if imports.is_empty() {
            return Ok(());
        }
        Err(Error::ForbiddenImport {
            module: module_name.to_string(),
            imports,
        })
    }

    /// Refuses code that is too large to compile safely (a compile-time bomb).
    pub fn check_code_size(
        &self,
        module_name: &str,
        max_function: usize,
        max_total: usize,
    ) -> Result<()> {
        if self.largest_function_bytes > max_function {
            return Err(Error::CodeTooLarge {
                module: module_name.to_string(),
                what: "one function body".into(),
                size: self.largest_function_bytes,
                limit: max_function,
            });
        }
        if self.code_bytes > max_total {
            return Err(Error::CodeTooLarge {
                module: module_name.to_string(),
                what: "all function bodies together".into(),
                size: self.code_bytes,
                limit: max_total,
            });
        }
        Ok(())
    }
}

/// Strips the `@version` suffix of an interface name.
pub fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(n, _)| n)
}

/// Whether a module may import `name`. The piste host interfaces are granted; of WASI only
/// what Rust's standard library links into every component (standard streams, `exit`, and
/// `wasi:cli/environment`), each backed by the host with nothing: closed stdin, bounded
/// private pipes for stdout and stderr, an empty environment and no arguments, and `exit`
/// turned into a failed call. Everything else (files, sockets, clocks, random, HTTP) is
/// refused, with the capability it would have given.
pub fn allowed_import(name: &str) -> Result<(), &'static str> {
    const GRANTED: &[&str] = &[
        "piste:module/types",
        "piste:module/host",
        "wasi:io/error",
        "wasi:io/streams",
        "wasi:io/poll",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/terminal-input",
        "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin",
        "wasi:cli/terminal-stdout",
        "wasi:cli/terminal-stderr",
    ];
    let bare = unversioned(name);
    if GRANTED.contains(&bare) {
        return Ok(());
    }
    Err(match bare.split('/').next().unwrap_or(bare) {
        "wasi:filesystem" => "the filesystem",
        "wasi:sockets" => "network sockets",
        "wasi:clocks" => "clocks",
        "wasi:random" => "random numbers",
        "wasi:http" => "HTTP",
        _ => "a capability outside the piste worlds",
    })
}

/// Appends the info section naming the module and its version to a component.
/// Sign afterwards: the signature covers every section after it.
pub fn embed_info(wasm: &[u8], info: &ModuleInfo) -> Vec<u8> {
    let payload = serde_json::to_vec(info).expect("module info serialises");
    let mut body = Vec::new();
    write_leb128(&mut body, INFO_SECTION.len() as u64);
    body.extend_from_slice(INFO_SECTION.as_bytes());
    body.extend_from_slice(&payload);
    let mut out = Vec::with_capacity(wasm.len() + body.len() + 8);
    out.extend_from_slice(wasm);
    out.push(0); // custom section id
    write_leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn write_leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the header alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn the_import_policy_grants_std_plumbing_and_refuses_capabilities() {
        for granted in [
            "piste:module/host@0.1.0",
            "wasi:io/streams@0.2.6",
            "wasi:cli/stderr@0.2.0",
            "wasi:cli/environment@0.2.6",
        ] {
            assert_eq!(allowed_import(granted), Ok(()), "{granted}");
        }
        assert_eq!(
            allowed_import("wasi:filesystem/types@0.2.6"),
            Err("the filesystem")
        );
        assert_eq!(
            allowed_import("wasi:sockets/tcp@0.2.6"),
            Err("network sockets")
        );
        assert_eq!(
            allowed_import("wasi:clocks/wall-clock@0.2.6"),
            Err("clocks")
        );
        assert_eq!(
            allowed_import("wasi:random/random@0.2.6"),
            Err("random numbers")
        );
        assert!(allowed_import("vendor:secret/backdoor").is_err());
    }

    #[test]
    fn module_info_survives_embedding() {
        let info = ModuleInfo {
            name: "tag-rules".into(),
            version: "1.2.3".into(),
        };
        // A payload over 127 bytes makes the section length a two-byte LEB128.
        let long = ModuleInfo {
            name: "x".repeat(300),
            version: "0.1.0".into(),
        };
        for info in [info, long] {
            let inspection = Inspection::read("t", &embed_info(EMPTY_COMPONENT, &info)).unwrap();
            assert_eq!(inspection.info.as_ref(), Some(&info));
            assert_eq!(inspection.world, None);
        }
    }

    #[test]
    fn core_modules_and_garbage_are_not_components() {
        let core = Inspection::read("t", b"\0asm\x01\0\0\0")
            .unwrap_err()
            .to_string();
        assert!(core.contains("wasm32-wasip2"), "{core}");
        assert!(Inspection::read("t", b"garbage!").is_err());
        let truncated = [EMPTY_COMPONENT, &[0x00, 0x7f][..]].concat();
        assert!(Inspection::read("t", &truncated).is_err());
    }
}
