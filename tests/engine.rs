//! The engine against peers that misbehave: garbage, early closes, refusals, floods,
//! silence. Each must end within its deadline with a precise finding — never a panic or
//! a hang — and the bundled echo scenarios must name the right ECHO rule when the echo
//! server is wrong on purpose.

use std::net::SocketAddr;
use std::time::Duration;

use parley::engine::PlayOptions;
use parley::outcome::{ErrorKind, Status, Summary};
use parley_mock::MockServer;
use parley_mock::echo::EchoConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use parley_tests::{against, bundled, inline, quick, rules, serve_once};

/// The step deadline of the plays that time a step out.
const STEP: Duration = Duration::from_millis(400);

#[tokio::test]
async fn bundled_echo_scenarios_pass_against_the_mock_written_byte_by_byte() {
    let config = EchoConfig {
        faults: parley_mock::faults::MockFaults {
            split_writes: std::num::NonZeroUsize::new(1),
            ..Default::default()
        },
        ..EchoConfig::default()
    };
    let mock = MockServer::echo(config).await.unwrap();
    for name in [
        "echo/basic.yaml",
        "echo/large.yaml",
        "echo/binary.yaml",
        "echo/concurrent.yaml",
    ] {
        let o = against(&bundled(name), mock.addr(), &PlayOptions::default()).await;
        assert_eq!(o.status, Status::Passed, "{name}: {:?}", o.findings);
    }
}

#[tokio::test]
async fn echo_server_truncating_at_1024_bytes_breaks_echo_2() {
    let mock = MockServer::echo(EchoConfig {
        truncate_after: Some(1024),
        ..EchoConfig::default()
    })
    .await
    .unwrap();
    let o = against(&bundled("echo/large.yaml"), mock.addr(), &quick(STEP)).await;
    assert_eq!(o.status, Status::Failed);
    assert_eq!(rules(&o), ["ECHO-2"]);
    assert!(
        o.findings[0].message.contains("got 1024 bytes"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn echo_server_closing_after_one_message_breaks_echo_3() {
    let mock = MockServer::echo(EchoConfig {
        close_after_first_read: true,
        ..EchoConfig::default()
    })
    .await
    .unwrap();
    let o = against(&bundled("echo/basic.yaml"), mock.addr(), &quick(STEP)).await;
    assert_eq!(rules(&o), ["ECHO-3"], "{:?}", o.findings);
    assert!(
        o.findings[0].message.contains("the server closed `main`"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn echo_server_serving_one_client_at_a_time_breaks_echo_4() {
    let mock = MockServer::echo(EchoConfig {
        one_at_a_time: true,
        ..EchoConfig::default()
    })
    .await
    .unwrap();
    let o = against(&bundled("echo/concurrent.yaml"), mock.addr(), &quick(STEP)).await;
    assert_eq!(rules(&o), ["ECHO-4"], "{:?}", o.findings);
    assert!(
        o.findings[0].message.starts_with("waited 400 ms for 11 bytes"),
        "{}",
        o.findings[0].message
    );
    assert_eq!(o.findings[0].conn.as_deref(), Some("b"));
}

#[tokio::test]
async fn garbage_from_the_server_is_a_mismatch_with_the_bytes_shown() {
    let addr = serve_once(|mut s| async move {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"\x00\xff\x13garbage!!").await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    let o = against(&bundled("echo/basic.yaml"), addr, &quick(STEP)).await;
    assert_eq!(o.status, Status::Failed);
    let f = &o.findings[0];
    assert_eq!(f.rule, "ECHO-1");
    assert!(
        f.actual.as_deref().unwrap().starts_with("\\0\\xFF\\x13garbage"),
        "{f:?}"
    );
    assert_eq!(f.expected.as_deref(), Some("hello, parley\\r\\n"));
}

#[tokio::test]
async fn a_server_that_closes_mid_step_is_reported_with_what_it_sent() {
    let addr = serve_once(|mut s| async move {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).await;
        let _ = s.write_all(b"hel").await;
    })
    .await;
    let o = against(&bundled("echo/basic.yaml"), addr, &quick(STEP)).await;
    let f = &o.findings[0];
    assert_eq!(f.rule, "ECHO-1", "the step names ECHO-1");
    assert!(
        f.message
            .contains("the server closed `main` while parley waited for 15 bytes"),
        "{}",
        f.message
    );
    assert!(f.message.contains("got 3 bytes: \"hel\""), "{}", f.message);
    // The remaining steps did not run.
    assert!(
        o.steps
            .iter()
            .skip(2)
            .all(|s| s.state == parley::outcome::StepState::NotRun)
    );
}

#[tokio::test]
async fn a_target_that_refuses_is_unreachable_with_exit_code_3() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let o = against(&bundled("echo/basic.yaml"), addr, &quick(STEP)).await;
    assert_eq!(o.status, Status::Error);
    let err = o.error.as_ref().unwrap();
    assert_eq!(err.kind, ErrorKind::Unreachable);
    assert!(
        err.message
            .contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{}",
        err.message
    );
    assert_eq!(Summary::exit_code(std::slice::from_ref(&o)), 3);
}

#[tokio::test]
async fn a_server_that_floods_is_cut_off_at_the_buffer_limit() {
    let addr = serve_once(|mut s| async move {
        let block = vec![b'a'; 64 * 1024];
        while s.write_all(&block).await.is_ok() {}
    })
    .await;
    let scenario = inline(
        "name: waits for END\nprotocol: echo\nsteps:\n  - client: \"go\\r\\n\"\n  - server: { contains: \"END\" }\n    timeout: 15s\n",
    );
    let o = against(&scenario, addr, &PlayOptions::default()).await;
    assert_eq!(rules(&o), ["S-LIMIT"], "{:?}", o.findings);
    assert!(
        o.findings[0].message.contains("more than 16 MiB"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn a_silent_server_fails_with_what_was_sent_and_how_long_parley_waited() {
    let addr = serve_once(|mut s| async move {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    let o = against(&bundled("echo/basic.yaml"), addr, &quick(STEP)).await;
    let f = &o.findings[0];
    assert_eq!(
        f.message,
        "waited 400 ms for 15 bytes \"hello, parley\\r\\n\" from the server on `main` after sending \"hello, parley\\r\\n\"; got 0 bytes"
    );
}

#[tokio::test]
async fn a_scenario_that_outlives_its_own_timeout_stops_at_the_scenario_deadline() {
    let addr = serve_once(|mut s| async move {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    })
    .await;
    // The step deadline is one no machine reaches by accident: the finding names the
    // deadline that ended the play, and it is the scenario's.
    let scenario = inline(
        "name: slow\nprotocol: echo\ntimeout: 300ms\nstep_timeout: 60s\nsteps:\n  - client: \"x\"\n  - server: \"x\"\n",
    );
    let o = against(&scenario, addr, &PlayOptions::default()).await;
    assert_eq!(rules(&o), ["ECHO-1"], "{:?}", o.findings);
    assert!(
        o.findings[0].message.contains("the scenario's timeout of 300 ms"),
        "{}",
        o.findings[0].message
    );
    assert!(
        !o.findings[0].message.contains("60.0 s"),
        "{}",
        o.findings[0].message
    );
}

#[tokio::test]
async fn verdicts_do_not_depend_on_how_the_server_splits_its_writes() {
    // The same wrong echo (a byte changed, then silence), sent whole and byte by byte.
    let mut verdicts = Vec::new();
    for split in [None, std::num::NonZeroUsize::new(1)] {
        let addr = serve_once(move |mut s| async move {
            let mut buf = vec![0u8; 64];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let mut answer = buf[..n].to_vec();
            if let Some(b) = answer.get_mut(3) {
                *b = b'X';
            }
            let faults = parley_mock::faults::MockFaults {
                split_writes: split,
                ..Default::default()
            };
            let _ = parley_mock::faults::write_shaped(&mut s, &answer, &faults).await;
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
        })
        .await;
        let o = against(&bundled("echo/basic.yaml"), addr, &quick(STEP)).await;
        assert_eq!(
            o.findings[0].message,
            "the server sent something else: the bytes differ from byte 3 on"
        );
        verdicts.push((
            o.status,
            rules(&o),
            o.findings.iter().map(|f| f.message.clone()).collect::<Vec<_>>(),
        ));
    }
    assert_eq!(verdicts[0], verdicts[1]);
    // The failed step ends the scenario: no second finding from steps that waited on a
    // conversation already known to be wrong.
    assert_eq!(verdicts[0].1, ["ECHO-1"]);
}
