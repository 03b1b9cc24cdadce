//! `piste keys`: make publisher key pairs for signing modules.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use piste_sandbox::PublisherKey;

/// Key commands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new Ed25519 publisher key pair (NAME.key, secret, mode 0600; NAME.pub, public).
    Generate {
        /// Directory to write the keys into (made if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Base name of the key files.
        #[arg(long, default_value = "publisher")]
        name: String,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a key command.
pub fn run(cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Generate { out, name, force } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let secret = out.join(format!("{name}.key"));
            let public = out.join(format!("{name}.pub"));
            if !force && (secret.exists() || public.exists()) {
                bail!(
                    "{} already exists; pass --force to replace it",
                    secret.display()
                );
            }
            let key = PublisherKey::generate();
            key.write(&secret, &public)?;
            println!("secret key  {}  (keep it private)", secret.display());
            println!(
                "public key  {}  (give it to appliances: `piste module verify --trust`)",
                public.display()
            );
            println!("fingerprint {}", key.fingerprint());
            Ok(())
        }
    }
}
