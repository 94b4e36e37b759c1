//! What `parley record` prints: where the relay listens, every exchange and finding as it
//! passes (the lines of [`super::live`]), and what it wrote.

use std::net::SocketAddr;

use crate::engine::relay::RelayEvent;
use crate::proto::Protocol;

/// The line `parley record` prints on Ctrl-C before it writes the scenario.
pub const STOPPING: &str = "stopping: writing what was recorded so far";

/// The banner: the relay at `addr` in front of `upstream`, and the client `command`
/// parley starts (none: the user points a client at `addr`).
pub fn banner(protocol: Protocol, addr: SocketAddr, upstream: &str, command: Option<&[String]>) -> String {
    match command {
        Some(cmd) => format!(
            "parley record {protocol}: relaying {addr} -> {upstream}; starting `{}`",
            cmd.join(" ")
        ),
        None => format!(
            "parley record {protocol}: relaying {addr} -> {upstream}; point the client at {addr} \
             (the recording ends when its connections have closed; Ctrl-C ends it now)"
        ),
    }
}

/// The lines for one event of the relay: the [`banner`] for [`RelayEvent::Ready`], else
/// the live lines of the exchange.
pub fn event_lines(
    event: &RelayEvent,
    protocol: Protocol,
    upstream: &str,
    command: Option<&[String]>,
    color: bool,
) -> Vec<String> {
    match event {
        RelayEvent::Ready { addr } => vec![banner(protocol, *addr, upstream, command)],
        event => super::live::lines(event, color),
    }
}

/// How the client program parley started ended.
pub fn client_ended(command: &str, status: &impl std::fmt::Display) -> String {
    format!("client: {command} — {status}")
}

/// Why there is no scenario to write to `file`.
pub fn nothing_to_write(file: &std::path::Path, why: &str) -> String {
    format!("error: nothing to write to {}: {why}", file.display())
}

/// What parley says when the scenario it wrote does not load.
pub const UNREADABLE: &str = "error: parley wrote a scenario it cannot read back; please report this";

/// What was written to `file` (`steps` steps, `interrupted` by Ctrl-C) and the two
/// commands that play it back: against `upstream`, and grading `client`.
pub fn written(
    file: &std::path::Path,
    steps: usize,
    interrupted: bool,
    protocol: Protocol,
    upstream: &str,
    client: &str,
) -> String {
    let interrupted = if interrupted {
        " (stopped early: what was seen so far)"
    } else {
        ""
    };
    let file = file.display();
    format!(
        "wrote {file}: {steps} steps{interrupted}; it plays both ways:\n  \
         parley run {file} --target {protocol}={upstream}\n  \
         parley grade {file} --no-variants -- {client}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_says_where_to_point_a_client_parley_does_not_start() {
        let addr: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        assert_eq!(
            banner(Protocol::Echo, addr, "127.0.0.1:7007", None),
            "parley record echo: relaying 127.0.0.1:7070 -> 127.0.0.1:7007; point the client at 127.0.0.1:7070 \
             (the recording ends when its connections have closed; Ctrl-C ends it now)"
        );
        let cmd = ["curl".to_string(), "-s".to_string()];
        assert_eq!(
            banner(Protocol::Ftp, addr, "h:21", Some(&cmd)),
            "parley record ftp: relaying 127.0.0.1:7070 -> h:21; starting `curl -s`"
        );
    }

    #[test]
    fn written_names_both_ways_to_play_the_recording() {
        let text = written(
            std::path::Path::new("list.yaml"),
            6,
            true,
            Protocol::Ftp,
            "127.0.0.1:2121",
            "curl -s ftp://{host}:{port}/",
        );
        assert_eq!(
            text,
            "wrote list.yaml: 6 steps (stopped early: what was seen so far); it plays both ways:\n  \
             parley run list.yaml --target ftp=127.0.0.1:2121\n  \
             parley grade list.yaml --no-variants -- curl -s ftp://{host}:{port}/"
        );
    }
}
