//! Typed errors of the sandbox: why a module was refused at load, and why a call failed.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The result type of every fallible sandbox operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure stopped a module call; each kind is counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The call ran past its wall-clock deadline.
    Deadline,
    /// The call used up its fuel budget.
    OutOfFuel,
    /// The module asked for more memory than its cap.
    Memory,
    /// The module exhausted its wasm stack.
    StackOverflow,
    /// The module panicked or executed `unreachable`.
    Panic,
    /// The module trapped for another reason (out-of-bounds access, division by zero, ...).
    Trap,
    /// The module wrote more log records in one call than allowed.
    LogFlood,
    /// The module asked to exit the process.
    Exit,
    /// The module returned a value that breaks the interface's rules.
    BadOutput,
    /// The module returned more bytes than the output cap.
    OutputTooLarge,
    /// The host refused to send an input larger than the input cap.
    InputTooLarge,
    /// The module returned its own error (a normal, handled failure).
    ModuleError,
    /// Every instance of the module stayed busy past the call's deadline.
    Busy,
    /// The module failed too often and is quarantined until reloaded.
    Quarantined,
}

impl ErrorKind {
    /// Every kind, in a fixed order, for tables and metrics.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Deadline,
        ErrorKind::OutOfFuel,
        ErrorKind::Memory,
        ErrorKind::StackOverflow,
        ErrorKind::Panic,
        ErrorKind::Trap,
        ErrorKind::LogFlood,
        ErrorKind::Exit,
        ErrorKind::BadOutput,
        ErrorKind::OutputTooLarge,
        ErrorKind::InputTooLarge,
        ErrorKind::ModuleError,
        ErrorKind::Busy,
        ErrorKind::Quarantined,
    ];

    /// The kebab-case name used in messages and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Deadline => "deadline",
            ErrorKind::OutOfFuel => "out-of-fuel",
            ErrorKind::Memory => "memory",
            ErrorKind::StackOverflow => "stack-overflow",
            ErrorKind::Panic => "panic",
            ErrorKind::Trap => "trap",
            ErrorKind::LogFlood => "log-flood",
            ErrorKind::Exit => "exit",
            ErrorKind::BadOutput => "bad-output",
            ErrorKind::OutputTooLarge => "output-too-large",
            ErrorKind::InputTooLarge => "input-too-large",
            ErrorKind::ModuleError => "module-error",
            ErrorKind::Busy => "busy",
            ErrorKind::Quarantined => "quarantined",
        }
    }

    /// Whether this kind is the module's fault and counts towards quarantine
    /// (a trap, an overrun or a broken output, as opposed to a handled error).
    pub fn is_fault(self) -> bool {
        !matches!(
            self,
            ErrorKind::ModuleError
                | ErrorKind::InputTooLarge
                | ErrorKind::Busy
                | ErrorKind::Quarantined
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed call: which module, version and function, what kind of failure, and where.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The module's name.
    pub module: String,
    /// The module's version.
    pub version: String,
    /// The exported function that was called.
    pub function: &'static str,
    /// What kind of failure it was.
    pub kind: ErrorKind,
    /// What happened, in words.
    pub message: String,
    /// The wasm backtrace at the trap, when there was one.
    pub backtrace: Option<String>,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "module {}@{}: {} failed ({}): {}",
            self.module, self.version, self.function, self.kind, self.message
        )?;
        if let Some(bt) = &self.backtrace {
            write!(f, "\n{bt}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

/// Why the sandbox refused a module, a key or a trust store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The module file is larger than the engine accepts.
    #[error("module {module}: {size} bytes is over the {limit}-byte limit for a module file")]
    TooLarge {
        /// The module's name.
        module: String,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The module carries no signature.
    #[error(
        "module {module}: not signed; sign it with `piste module sign` and a publisher key the appliance trusts"
    )]
    Unsigned {
        /// The module's name.
        module: String,
    },
    /// The module's signature does not verify against any trusted key.
    #[error("module {module}: signature check failed: {reason}")]
    Signature {
        /// The module's name.
        module: String,
        /// Why, in words.
        reason: String,
    },
    /// A key or trust-store file could not be used.
    #[error("key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The bytes are not a WebAssembly component.
    #[error("module {module}: not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The module's name.
        module: String,
        /// What the parser said.
        reason: String,
    },
    /// A function body or the code as a whole is larger than the engine compiles.
    #[error(
        "module {module}: {what} is {size} bytes of code, over the {limit}-byte limit; refused before compiling"
    )]
    CodeTooLarge {
        /// The module's name.
        module: String,
        /// Which piece of code.
        what: String,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The component targets another world than the one asked for.
    #[error("module {module}: built for the {found} world, but was loaded as a {expected}")]
    WrongWorld {
        /// The module's name.
        module: String,
        /// The world the host expected.
        expected: String,
        /// What the component exports instead.
        found: String,
    },
    /// The component imports something outside its world.
    #[error("module {module}: imports what no piste world grants: {}; remove the code that uses it", describe_imports(.imports))]
    ForbiddenImport {
        /// The module's name.
        module: String,
        /// Each forbidden import's full name and the capability it would give.
        imports: Vec<(String, &'static str)>,
    },
    /// Cranelift or the component model refused the module.
    #[error("module {module}: does not compile: {reason}")]
    Compile {
        /// The module's name.
        module: String,
        /// What the compiler said.
        reason: String,
    },
    /// A fresh instance could not be made or refused its configuration.
    #[error("module {module}: refused at start: {source}")]
    Start {
        /// The module's name.
        module: String,
        /// The failure of the instantiation or of `init`.
        source: Box<CallError>,
    },
    /// The module registry has no module of that name.
    #[error("no module named {0} is loaded")]
    UnknownModule(String),
    /// The engine itself could not be built.
    #[error("sandbox engine: {0}")]
    Engine(String),
    /// A call failed (see [`CallError`]).
    #[error("{0}")]
    Call(Box<CallError>),
    /// A fixture or JSON call input does not match the world's types.
    #[error("bad call input: {0}")]
    Input(String),
}

fn describe_imports(imports: &[(String, &'static str)]) -> String {
    let parts: Vec<String> = imports
        .iter()
        .map(|(name, what)| format!("`{name}` ({what})"))
        .collect();
    parts.join(", ")
}
