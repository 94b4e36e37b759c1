//! `parley record`: the relay between one client and a real server, for as long as their
//! conversation lasts. The client is one the user starts (pointed at the relay's address),
//! or a program parley starts itself with `{host}` and `{port}` of the relay filled in
//! (the same [`Program`] that `parley grade` uses); then the recording ends when it
//! exits. Cancelling `stop` (Ctrl-C) ends it with what was seen so far.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{Conversation, Mode, Relay, RelayEvent, RelayOptions};
use crate::engine::program::{Program, ProgramSpec, fill};
use crate::outcome::ProgramSummary;
use crate::proto::Protocol;
use crate::rules::Profile;

/// How long the client program gets to exit after a recording stopped early.
pub const PROGRAM_GRACE: Duration = Duration::from_secs(2);

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The protocol spoken.
    pub protocol: Protocol,
    /// The HTTP rule profile of the live checks.
    pub profile: Profile,
    /// The real server, `host:port`.
    pub upstream: String,
    /// Where the relay listens for the client (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// A client program to start, with `{host}` and `{port}` placeholders.
    pub command: Option<Vec<String>>,
}

/// A finished recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The protocol.
    pub protocol: Protocol,
    /// The server, as given.
    pub upstream: String,
    /// Where the relay listened.
    pub relay: SocketAddr,
    /// When the recording started.
    pub started: SystemTime,
    /// What the conversation showed.
    pub conversation: Conversation,
    /// The client program parley started, and how it ended.
    pub program: Option<ProgramSummary>,
    /// The recording was stopped (Ctrl-C) before the conversation ended by itself.
    pub interrupted: bool,
}

/// Why nothing could be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The relay could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Where it tried.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The client program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Start {
        /// The program.
        program: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Records one conversation through a relay on `opts.listen` to `opts.upstream`; events
/// as it goes to `events`.
pub async fn record(
    opts: &RecordOptions,
    events: UnboundedSender<RelayEvent>,
    stop: CancellationToken,
) -> Result<Recording, RecordError> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| RecordError::Listen {
            addr: opts.listen,
            source,
        })?;
    let mut relay_opts = RelayOptions::new(opts.protocol, opts.upstream.clone(), Mode::Single);
    relay_opts.profile = opts.profile;
    let relay = Relay::new(listener, relay_opts, events).map_err(|source| RecordError::Listen {
        addr: opts.listen,
        source,
    })?;
    let addr = relay.local_addr().map_err(|source| RecordError::Listen {
        addr: opts.listen,
        source,
    })?;
    let started = SystemTime::now();
    let host = addr.ip().to_string();
    let port = addr.port().to_string();
    let Some(command) = &opts.command else {
        let conversation = relay.record_one(None, stop.clone()).await;
        return Ok(Recording {
            protocol: opts.protocol,
            upstream: opts.upstream.clone(),
            relay: addr,
            started,
            conversation,
            program: None,
            interrupted: stop.is_cancelled(),
        });
    };
    let argv = fill(command, &[("host", &host), ("port", &port)]);
    let spec = ProgramSpec {
        argv: argv.clone(),
        env: vec![("PARLEY_HOST".into(), host), ("PARLEY_PORT".into(), port)],
        stdin: None,
        cwd: None,
    };
    let mut program = Program::spawn(&spec).map_err(|source| RecordError::Start {
        program: argv.first().cloned().unwrap_or_default(),
        source,
    })?;
    let conversation = {
        let exited = Box::pin(async {
            program.exited().await;
        });
        relay.record_one(Some(exited), stop.clone()).await
    };
    let report = program.stop(PROGRAM_GRACE).await;
    let summary = ProgramSummary {
        command: argv.join(" "),
        status: report.describe_status(),
        exit_code: report.status.and_then(|s| s.code()),
        stdout_bytes: report.stdout_total,
        stderr_tail: report.stderr_tail(8),
        stopped: report.stopped,
        ..ProgramSummary::default()
    };
    Ok(Recording {
        protocol: opts.protocol,
        upstream: opts.upstream.clone(),
        relay: addr,
        started,
        conversation,
        program: Some(summary),
        interrupted: stop.is_cancelled(),
    })
}
