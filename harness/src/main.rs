//! The `parley` command line: parses arguments, calls the library, prints what the
//! report module renders, and maps results to exit codes (0 passed, 1 a check failed,
//! 2 usage or scenario file error, 3 target unreachable).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {err:#}");
            ExitCode::from(2)
        }
    }
}
