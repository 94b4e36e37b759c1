//! The sandbox's promises, checked on the machine: its own network with a working
//! loopback, sockets and programs inside it, and nothing of a program left after it
//! (`setsid()` descendants included); the fallback's collision rules.
//!
//! Where parley has the privilege to create namespaces (root or CAP_SYS_ADMIN on Linux),
//! the namespace tests must pass; elsewhere they say they were skipped.

use super::*;
use crate::outcome::{Outcome, StepResult};
use crate::scenario::Location;

/// Whether this process may create namespaces: CAP_SYS_ADMIN is in its effective set.
fn privileged() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// A sandbox, or `None` (after saying why) where this machine cannot make one. With the
/// privilege, failing to make one fails the test.
async fn sandbox() -> Option<Sandbox> {
    match Sandbox::new().await {
        Ok(s) => Some(s),
        Err(e) if !privileged() => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("SKIPPED: no sandbox without privilege here: {e}\n").as_bytes(),
            );
            None
        }
        Err(e) => panic!("parley has CAP_SYS_ADMIN but could not create a sandbox: {e}"),
    }
}

fn sh(script: &str) -> ProgramSpec {
    ProgramSpec {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        ..ProgramSpec::default()
    }
}

/// `marker` as a shell word that does not contain it literally (`ab"cd"`), so that only
/// the process exec'd with it as its name carries it, not the shells around it.
fn quoted(marker: &str) -> String {
    let (a, b) = marker.split_at(marker.len() / 2);
    format!("{a}\"{b}\"")
}

/// Live (not zombie) processes whose command line contains `marker`, from /proc.
fn alive_with(marker: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let state = stat.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
            (String::from_utf8_lossy(&cmdline).contains(marker) && state != "Z").then_some(pid)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_has_its_own_loopback_where_the_hosts_ports_are_free() {
    let Some(sb) = sandbox().await else { return };
    // A port taken on the host is free in the sandbox, and each side reaches its own.
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let inside = sb.bind(SocketAddr::from(([127, 0, 0, 1], port))).await.unwrap();
    let addr = format!("127.0.0.1:{port}");
    let (client, accepted) = tokio::join!(sb.connect(&addr), inside.accept());
    let client = client.unwrap();
    let (server, _) = accepted.unwrap();
    assert_eq!(client.local_addr().unwrap(), server.peer_addr().unwrap());
    // IPv6 loopback is up too.
    let v6 = sb.bind("[::1]:0".parse().unwrap()).await.unwrap();
    let v6addr = v6.local_addr().unwrap().to_string();
    let (c6, a6) = tokio::join!(sb.connect(&v6addr), v6.accept());
    assert!(c6.is_ok() && a6.is_ok());
    // A listener only in the sandbox is not reachable from the host.
    let only_inside = sb.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let err = tokio::net::TcpStream::connect(only_inside.local_addr().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    assert!(sb.sockets().isolated());
}

/// The TCP sockets of the sandbox's network, from its `/proc/net/tcp` and `tcp6` (read on
/// the sandbox thread, whose network it is), without their header lines.
async fn sockets_in(sb: &Sandbox) -> Vec<String> {
    sb.jobs
        .run(|_| {
            ["tcp", "tcp6"]
                .iter()
                .flat_map(|f| {
                    let table =
                        std::fs::read_to_string(format!("/proc/thread-self/net/{f}")).unwrap_or_default();
                    table.lines().skip(1).map(String::from).collect::<Vec<_>>()
                })
                .collect()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sandbox_holds_no_socket_a_program_could_meet() {
    // The loopback check leaves nothing, not even a TIME_WAIT: a program's fixed port is
    // free in every sandbox (a closed check held a port for a minute).
    let Some(sb) = sandbox().await else { return };
    assert_eq!(sockets_in(&sb).await, Vec::<String>::new());
    // What the table shows is this network's: a listener made here is in it.
    let l = sb.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = format!(":{:04X} ", l.local_addr().unwrap().port());
    let rows = sockets_in(&sb).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains(&port), "{rows:?}");
    assert_eq!(
        sb.own_ports(),
        std::collections::BTreeSet::from([l.local_addr().unwrap().port()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sandboxes_bind_the_same_fixed_port_at_once() {
    let (Some(a), Some(b)) = (sandbox().await, sandbox().await) else {
        return;
    };
    let fixed = SocketAddr::from(([127, 0, 0, 1], 39851));
    let la = a.bind(fixed).await.unwrap();
    let lb = b.bind(fixed).await.unwrap();
    assert_eq!(la.local_addr().unwrap(), lb.local_addr().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_in_a_sandbox_listens_there_and_proc_sees_it() {
    let Some(sb) = sandbox().await else { return };
    let mut program = sb
        .spawn(&ProgramSpec {
            argv: vec![
                "python3".into(),
                "-c".into(),
                "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',39851))\ns.listen()\n\
                 print('ready',flush=True)\nc,_=s.accept()\nc.sendall(b'hi')\nc.close()"
                    .into(),
            ],
            ..ProgramSpec::default()
        })
        .await
        .unwrap();
    // Ready when /proc (the program's own network namespace) shows it listening.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ports = crate::engine::procfs::listening_ports(program.pid()).unwrap_or_default();
        if ports.contains(&39851) {
            break;
        }
        assert!(program.try_status().is_none(), "the program exited");
        assert!(tokio::time::Instant::now() < deadline, "never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // It is in namespaces other than parley's.
    for ns in ["net", "pid"] {
        let own = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let pid_for_children = std::fs::read_link(format!("/proc/{}/ns/{ns}", program.pid())).unwrap();
        assert_ne!(
            own, pid_for_children,
            "the program shares parley's {ns} namespace"
        );
    }
    let mut c = sb.connect("127.0.0.1:39851").await.unwrap();
    let mut got = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut c, &mut got)
        .await
        .unwrap();
    assert_eq!(got, b"hi");
    let report = program.stop(Duration::from_secs(10)).await;
    assert_eq!(report.describe_status(), "exit status 0");
    assert!(sb.kill_all().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setsid_grandchild_does_not_outlive_its_program() {
    let Some(sb) = sandbox().await else { return };
    let marker = format!("parley-sandbox-setsid-{}", std::process::id());
    // Double fork and setsid: the grandchild leaves the program's process group and
    // session, and its parent exits, so it is nobody's child in the program's tree. It
    // ignores SIGTERM and keeps the program's stdout open.
    let program = sb
        .spawn(&sh(&format!(
            "setsid bash -c 'trap \"\" TERM; exec -a {} sleep 60' & sleep 60",
            quoted(&marker)
        )))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while alive_with(&marker).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grandchild never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = program.terminate(Duration::from_secs(2)).await;
    assert!(report.stopped);
    assert!(
        sb.kill_all().await,
        "the sandbox's processes were not gone in time"
    );
    assert_eq!(
        alive_with(&marker),
        Vec::<i32>::new(),
        "the setsid grandchild survived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_sandbox_kills_what_is_left_in_it() {
    let Some(sb) = sandbox().await else { return };
    let marker = format!("parley-sandbox-drop-{}", std::process::id());
    let mut program = sb
        .spawn(&sh(&format!(
            "setsid bash -c 'exec -a {} sleep 60' </dev/null >/dev/null 2>&1 & exit 0",
            quoted(&marker)
        )))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while alive_with(&marker).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grandchild never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The program exited by itself and is not stopped (stopping it would run the
    // sandbox's reaper): its grandchild lives on until the sandbox is dropped.
    assert!(program.exited().await.is_some_and(|s| s.success()));
    drop(program);
    assert!(
        !alive_with(&marker).is_empty(),
        "something else killed the grandchild"
    );
    drop(sb);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !alive_with(&marker).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grandchild survived the sandbox"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_init_cannot_be_killed_from_inside_and_a_stopped_sandbox_starts_nothing() {
    let Some(sb) = sandbox().await else { return };
    // pid 1 has no handler for SIGKILL or SIGTERM: from inside its namespace, both are
    // dropped, so a program cannot end its sandbox early (and escape the reaper).
    let program = sb
        .spawn(&sh("kill -KILL 1; kill -TERM 1; echo $$"))
        .await
        .unwrap();
    let report = program.stop(Duration::from_secs(10)).await;
    // The program is not pid 1 of its namespace (the placeholder init is).
    let own_pid = String::from_utf8_lossy(&report.stdout).trim().to_string();
    assert_ne!(own_pid, "1");
    assert!(own_pid.parse::<u32>().is_ok(), "{report:?}");
    // Its stop killed the namespace: the sandbox starts no other program.
    sb.kill_all().await;
    let err = sb.spawn(&sh("true")).await.unwrap_err();
    assert!(err.to_string().contains("ended"), "{err}");
}

#[tokio::test]
async fn isolation_off_is_the_fallback_and_says_so() {
    let err = availability(Isolation::Off).await.unwrap_err();
    assert!(matches!(err, Unavailable::Disabled));
    assert!(err.note().contains("one after another"), "{}", err.note());
    let place = Place::open(Isolation::Off).await;
    assert!(!place.isolated());
    assert!(!place.sockets().isolated());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_privilege_isolation_is_available() {
    if !privileged() {
        return;
    }
    if disabled_by_env() {
        return;
    }
    availability(Isolation::Auto).await.unwrap();
    assert!(Place::open(Isolation::Auto).await.isolated());
}

fn report_with(stderr: &str) -> ProgramReport {
    ProgramReport {
        stderr: stderr.as_bytes().to_vec(),
        ..ProgramReport::default()
    }
}

#[test]
fn address_in_use_is_recognised_as_every_runtime_prints_it() {
    for said in [
        "ftp client: [Errno 98] Address already in use",
        "bind: Address already in use",
        "java.net.BindException: Address already in use (Bind failed)",
        "listen tcp 127.0.0.1:39851: bind: address already in use",
        "Error: listen EADDRINUSE: address already in use 127.0.0.1:39851",
    ] {
        assert!(collided(&report_with(said)), "{said}");
    }
    assert!(!collided(&report_with(
        "ftp client: [Errno 111] Connection refused"
    )));
}

#[test]
fn a_collision_is_an_error_of_the_environment_not_the_programs_failure() {
    let mut o = Outcome::error(
        "grading::ftp-list".into(),
        "ftp-list.yaml".into(),
        RunError {
            kind: ErrorKind::Unreachable,
            message: "x".into(),
            diagnostic: None,
        },
    );
    o.status = Status::Failed;
    o.error = None;
    o.findings
        .push(crate::finding::Finding::new(crate::rules::S_CLOSE, "closed"));
    o.steps.push(StepResult {
        number: 1,
        location: Location {
            file: std::path::Path::new("ftp-list.yaml").into(),
            line: 1,
            col: 1,
        },
        state: StepState::Failed,
        points: 1,
    });
    assert!(!is_collision(&o));
    mark_collision(&mut o);
    assert!(is_collision(&o));
    assert_eq!(o.status, Status::Error);
    assert_eq!(o.error.as_ref().unwrap().kind, ErrorKind::Internal);
    assert!(
        o.error
            .as_ref()
            .unwrap()
            .message
            .contains("not the program's fault")
    );
    assert!(o.findings.is_empty(), "no finding blames the program");
    assert_eq!(o.steps[0].state, StepState::NotRun);
}
