//! Argument definitions (clap derive) and one function per subcommand.

mod args;
mod commands;

pub use args::Cli;
pub use commands::dispatch;
