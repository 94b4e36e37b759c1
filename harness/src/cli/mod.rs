//! Argument definitions (clap derive) and one function per subcommand.

mod args;
mod commands;
mod output;

pub use args::Cli;
pub use commands::dispatch;
