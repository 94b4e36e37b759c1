//! Writing to the terminal without panicking: `println!` panics when stdout is a closed
//! pipe (`parley list | head`). These macros write through a locked handle and ignore a
//! write error, so the command still finishes its work (reports, exit code) when the
//! reader has gone away.

/// `println!` that never panics.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that never panics.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// `eprintln!` that never panics.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!` that never panics.
macro_rules! say_err_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stderr().lock();
        let _ = write!(out, $($arg)*);
        let _ = out.flush();
    }};
}

pub(crate) use {say, say_err, say_err_raw, say_raw};
