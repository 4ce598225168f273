//! `ferret query` (not implemented yet).

use crate::output::OutputArgs;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`ferret query` is not implemented yet")
}
