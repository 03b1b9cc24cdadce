//! The `piste` command line: one binary for field techs, module developers and central ops.

mod archive;
mod capture;
mod config;
mod demo;
mod keys;
mod module;
mod pki;
mod replay;
mod store;
mod sync;
mod template;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// piste: replay, module and archive runtime for winter-sports venue appliances.
#[derive(Parser)]
#[command(name = "piste", version, about)]
struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publisher keys for signing modules.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Create, build, sign, check, test and benchmark Wasm modules.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Run the three example modules on sample moments and print what they decide.
    Demo(demo::DemoArgs),
    /// Replays: 3D reconstruction of key moments from calibrated cameras.
    #[command(subcommand)]
    Replay(replay::ReplayCommand),
    /// Cameras: probe a source, record a clip from a venue's rig, watch it live.
    #[command(subcommand)]
    Capture(capture::CaptureCommand),
    /// The fleet PKI: CA, appliance enrolment, archive certificates, revocation.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// The appliance's store: assets, outbox, verification.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Sync the appliance's outbox to the archive over QUIC.
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// The archive node: ingest from appliances, status, verification.
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
}

/// Replays allocate and free frame-sized buffers by the thousand; mimalloc reuses them where
/// the system allocator maps and faults in fresh pages for each.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (`mimalloc.h`); the bindings name
/// the options around it (14 and 16) but not this one.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the system. The
/// default (a second, ten for arenas) hands a replay stage's buffers back before the next
/// stage asks for as many again, and taking memory back costs its first touch: the kernel
/// zeroes it, here at about 1.4 GB/s. Ten seconds spans a replay; an idle process still
/// shrinks.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

fn main() {
    // SAFETY: `mi_option_set` takes any option and value; it runs before any thread starts.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result: Result<()> = match cli.command {
        Command::Keys(cmd) => keys::run(cmd),
        Command::Module(cmd) => module::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Replay(cmd) => replay::run(cmd),
        Command::Capture(cmd) => capture::run(cmd),
        Command::Pki(cmd) => pki::run(cmd),
        Command::Store(cmd) => store::run(cmd),
        Command::Sync(cmd) => sync::run(cmd),
        Command::Archive(cmd) => archive::run(cmd),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => {
            "warn,piste=info,piste_capture=info,piste_sync=info,piste_archive=info,piste_store=info"
        }
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
