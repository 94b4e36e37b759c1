//! Argument definitions (clap derive) and one function per subcommand.

mod args;
mod commands;
mod output;
mod review;

pub use args::Cli;
pub use commands::dispatch;
