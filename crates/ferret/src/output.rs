//! The `--format` / `--output` pair shared by every subcommand.

use clap::{Args as ClapArgs, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable output (the default on a terminal).
    #[value(alias = "human", alias = "text")]
    Table,
    /// One JSON object per line.
    #[value(alias = "json")]
    Ndjson,
}

#[derive(ClapArgs, Debug, Clone)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, ndjson otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write results to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl OutputArgs {
    /// The chosen format; without `--format`, table when writing to a
    /// terminal and ndjson otherwise.
    pub fn format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            if self.output.is_none() && io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Ndjson
            }
        })
    }

    /// Whether color escapes may be written to the output.
    pub fn color(&self) -> bool {
        self.output.is_none()
            && io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none()
    }

    /// The output sink, buffered.
    pub fn open(&self) -> anyhow::Result<Box<dyn Write>> {
        Ok(match &self.output {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
                Box::new(io::BufWriter::new(file))
            }
            None => Box::new(io::BufWriter::new(io::stdout().lock())),
        })
    }
}
