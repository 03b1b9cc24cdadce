//! `piste replay`: 3D replays of key moments from calibrated cameras.

mod hull;
pub mod images;
pub mod run;
mod sim;

use anyhow::Result;
use clap::Subcommand;

/// Replay commands.
#[derive(Subcommand)]
pub enum ReplayCommand {
    /// Carve a visual hull from a Middlebury-layout directory (images, *_par.txt, optional
    /// *_good_silhouette_images.txt and a README with the bounding box).
    Hull(hull::HullArgs),
    /// Run matting, reconstruction, kinematics and every render on a clip directory.
    Run(run::RunArgs),
    /// Write a simulated clip directory, with ground truth, from the venue simulator.
    Sim(sim::SimArgs),
}

/// Runs a replay command.
pub fn run(cmd: ReplayCommand) -> Result<()> {
    match cmd {
        ReplayCommand::Hull(args) => hull::run(&args),
        ReplayCommand::Run(args) => run::run(&args),
        ReplayCommand::Sim(args) => sim::run(&args),
    }
}
