//! Isolation of every program run (README, "Isolation"): each case runs on both paths —
//! `Isolation::Auto` (a network and PID namespace per run, where parley has the privilege:
//! then it must be one) and `Isolation::Off` (the fallback, as without the privilege or
//! with `PARLEY_NO_SANDBOX=1`).
//!
//! The course's own FTP client binds the fixed data port 39851: graded at the default
//! `--jobs`, and as a class of four at `--jobs 4`, every run must show its real bug
//! (F-DATA-1), never "Address already in use". A port another process holds is the
//! machine's problem, never the program's. A `setsid()` grandchild does not outlive
//! grading. A spawned server is found ready inside its namespace without a connection.

use parley::engine::PlayOptions;
use parley::engine::batch::{Submission, grade_all};
use parley::engine::grade::{GradeOptions, grade_client, run_against_program};
use parley::engine::sandbox::{self, Isolation};
use parley::outcome::{ErrorKind, Outcome, Status};
use parley_tests::{bundled as scenario, describe, runtime};
use rstest::rstest;

fn program(path: &str) -> String {
    parley_tests::fixtures_dir()
        .join("programs")
        .join(path)
        .display()
        .to_string()
}

fn options(command: Vec<String>, isolation: Isolation) -> GradeOptions {
    GradeOptions {
        command,
        dir: None,
        play: PlayOptions {
            isolation,
            ..PlayOptions::default()
        },
    }
}

/// Whether this process may create namespaces (CAP_SYS_ADMIN in its effective set).
fn privileged() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// Whether runs under `isolation` are sandboxed. With the privilege (and without
/// `PARLEY_NO_SANDBOX`), `Auto` must be: a sandbox that cannot be made then fails the test.
fn sandboxed(isolation: Isolation) -> bool {
    match runtime().block_on(sandbox::availability(isolation)) {
        Ok(()) => true,
        Err(why) => {
            let forced_off = matches!(
                why,
                sandbox::Unavailable::Disabled | sandbox::Unavailable::DisabledByEnv
            );
            assert!(
                forced_off || !privileged(),
                "parley has CAP_SYS_ADMIN but runs are not sandboxed: {why}"
            );
            false
        }
    }
}

/// Whether runs are sandboxed here; if not, says on stderr why the calling test is
/// skipped: without a sandbox, `why`.
fn sandboxed_or_skip(why: &str) -> bool {
    let isolated = sandboxed(Isolation::Auto);
    if !isolated {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIPPED: without a sandbox, {why}\n").as_bytes(),
        );
    }
    isolated
}

/// The course client's findings: F-DATA-1 and nothing that blames a bind.
fn assert_shows_f_data_1(o: &Outcome) {
    let text = describe(o);
    assert_eq!(o.status, Status::Failed, "{text}");
    let rules: Vec<&str> = o.failed_rules().iter().map(|r| r.as_str()).collect();
    assert_eq!(rules, ["F-DATA-1"], "{text}");
    let said = o
        .program
        .as_ref()
        .map(|p| p.stderr_tail.clone())
        .unwrap_or_default();
    assert!(!said.contains("Address already in use"), "{text}");
    assert!(
        o.findings.iter().all(|f| !f.message.contains("already in use")),
        "{text}"
    );
}

/// Runs of the course client outside a sandbox all bind the host's port 39851: one test
/// at a time does (two at once collide, which parley rightly reports as an error of the
/// machine, not the program's F-DATA-1). Sandboxed runs need no turn.
static HOST_PORT_39851: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn host_port_turn(isolation: Isolation) -> Option<std::sync::MutexGuard<'static, ()>> {
    (!sandboxed(isolation)).then(|| HOST_PORT_39851.lock().unwrap_or_else(|p| p.into_inner()))
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

#[rstest]
#[case::sandboxed(Isolation::Auto)]
#[case::fallback(Isolation::Off)]
fn the_course_ftp_client_shows_f_data_1_plain_and_in_every_variant_at_the_default_jobs(
    #[case] isolation: Isolation,
) {
    let _turn = host_port_turn(isolation);
    let sc = scenario("grading/ftp-list.yaml");
    let one = [Submission {
        name: "course".into(),
        dir: ".".into(),
    }];
    let base = options(
        vec![
            "python3".into(),
            program("ftp-client/course.py"),
            "{host}".into(),
            "{port}".into(),
        ],
        isolation,
    );
    let outcomes = runtime().block_on(grade_all(
        &one,
        std::slice::from_ref(&sc),
        &base,
        true,
        // At least two at once, so that the variants overlap here too.
        default_jobs().max(2),
        |_| {},
    ));
    assert_eq!(outcomes.len(), 1 + sc.variants.len());
    for o in &outcomes {
        assert_shows_f_data_1(o);
    }
}

#[rstest]
#[case::sandboxed(Isolation::Auto)]
#[case::fallback(Isolation::Off)]
fn four_copies_of_the_course_client_graded_as_a_class_at_jobs_4_all_show_f_data_1(
    #[case] isolation: Isolation,
) {
    let _turn = host_port_turn(isolation);
    let class = tempfile::tempdir().unwrap();
    for name in ["ann", "ben", "cat", "dan"] {
        let dir = class.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(program("ftp-client/course.py"), dir.join("client.py")).unwrap();
    }
    let subs = parley::engine::batch::submissions(class.path(), None).unwrap();
    let base = options(
        vec![
            "python3".into(),
            "{dir}/client.py".into(),
            "{host}".into(),
            "{port}".into(),
        ],
        isolation,
    );
    let sc = vec![scenario("grading/ftp-list.yaml")];
    let outcomes = runtime().block_on(grade_all(&subs, &sc, &base, false, 4, |_| {}));
    assert_eq!(outcomes.len(), 4);
    for o in &outcomes {
        assert_shows_f_data_1(o);
    }
}

/// A client that binds `port` first, as the course's client binds its data port.
fn binds_first(port: u16) -> Vec<String> {
    vec![
        "python3".into(),
        "-c".into(),
        format!(
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',{port}))\n\
             c=socket.create_connection((sys.argv[1],int(sys.argv[2])))\nc.sendall(b'hello\\n')\n\
             print(c.recv(100).decode(),end='')\nc.close()"
        ),
        "{host}".into(),
        "{port}".into(),
    ]
}

#[rstest]
#[case::sandboxed(Isolation::Auto)]
#[case::fallback(Isolation::Off)]
fn a_port_another_process_holds_is_the_machines_problem_never_the_programs_bug(#[case] isolation: Isolation) {
    let isolated = sandboxed(isolation);
    // This test holds the port on the host, for the whole run (and its retry).
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let sc = scenario("grading/echo-client.yaml");
    let o = runtime().block_on(grade_client(&sc, None, &options(binds_first(port), isolation)));
    if isolated {
        // The sandbox has its own ports: the program binds and is graded on what it did.
        assert!(!sandbox::is_collision(&o), "{}", describe(&o));
        assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    } else {
        assert!(sandbox::is_collision(&o), "{}", describe(&o));
        assert_eq!(o.status, Status::Error);
        assert_eq!(o.error.as_ref().unwrap().kind, ErrorKind::Internal);
        assert!(o.findings.is_empty(), "{}", describe(&o));
        // The program's own words stay in the report.
        let said = &o.program.as_ref().unwrap().stderr_tail;
        assert!(said.contains("Address already in use"), "{said}");
    }
    drop(held);
}

/// An echo client that first binds a port of its own, then connects to `{port}`, where
/// parley's listener is. It binds `{port}` at its first run (standing for the draw that puts
/// parley's listener on a program's fixed port); at later runs the port of its first run
/// when `keeps_its_port` (a fixed port, as the course's FTP client binds 39851), else
/// `{port}` again. Each run appends the port it bound to `state`. (The code names it `p`:
/// parley fills in `{port}` wherever it appears in the command.)
fn port_binding_client(state: &std::path::Path, keeps_its_port: bool) -> Vec<String> {
    let later = if keeps_its_port {
        "int(runs[0]) if runs else "
    } else {
        ""
    };
    vec![
        "python3".into(),
        "-c".into(),
        format!(
            "import os,socket,sys\nstate={state:?}\n\
             runs=open(state).read().split() if os.path.exists(state) else []\n\
             p={later}int(sys.argv[2])\n\
             open(state,'a').write(str(p)+'\\n')\n\
             s=socket.socket()\ns.bind(('127.0.0.1',p))\n\
             c=socket.create_connection((sys.argv[1],int(sys.argv[2])))\nc.sendall(b'hello\\n')\n\
             print(c.recv(100).decode(),end='')\nc.close()",
            state = state.display().to_string(),
        ),
        "{host}".into(),
        "{port}".into(),
    ]
}

fn runs_of(state: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(state)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn a_fixed_port_that_parleys_listener_took_in_the_sandbox_gets_a_second_run_that_keeps_off_it() {
    if !sandboxed_or_skip("a collision is retried alone, tested by the fallback cases") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let state = scratch.path().join("runs");
    let sc = scenario("grading/echo-client.yaml");
    let command = port_binding_client(&state, true);
    let o = runtime().block_on(grade_client(&sc, None, &options(command, Isolation::Auto)));
    let runs = runs_of(&state);
    // The first run could not bind its port (parley's listener held it there); the second,
    // in a sandbox that keeps off parley's ports of the first, binds the same port and
    // passes: the verdict is what the program does, not where the kernel put parley.
    assert_eq!(runs.len(), 2, "{runs:?} {}", describe(&o));
    assert_eq!(runs[0], runs[1], "{}", describe(&o));
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert!(!o.port_in_use);
}

#[test]
fn a_program_that_binds_parleys_own_port_in_every_run_is_judged_after_one_more_run() {
    if !sandboxed_or_skip("a collision is retried alone, tested by the fallback cases") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let state = scratch.path().join("runs");
    // Not a fixed port: it binds the port it was told to connect to, in every run — its own
    // bug, which a second run shows again.
    let command = port_binding_client(&state, false);
    let sc = scenario("grading/echo-client.yaml");
    let o = runtime().block_on(grade_client(&sc, None, &options(command, Isolation::Auto)));
    let runs = runs_of(&state);
    assert_eq!(runs.len(), 2, "once more, not more: {runs:?} {}", describe(&o));
    assert_ne!(runs[0], runs[1], "the second sandbox's listener is elsewhere");
    assert_eq!(
        o.status,
        Status::Failed,
        "judged, not an error of the machine: {}",
        describe(&o)
    );
    assert!(!sandbox::is_collision(&o), "{}", describe(&o));
    let rules: Vec<&str> = o.failed_rules().iter().map(|r| r.as_str()).collect();
    assert_eq!(rules, ["S-CONNECT"], "{}", describe(&o));
    let said = &o.program.as_ref().unwrap().stderr_tail;
    assert!(said.contains("Address already in use"), "{said}");
}

/// `marker` as a shell word that does not contain it literally, so that only the process
/// exec'd with it as its name carries it, not the shells around it.
fn quoted(marker: &str) -> String {
    let (a, b) = marker.split_at(marker.len() / 2);
    format!("{a}\"{b}\"")
}

/// Live (not zombie) processes whose command line contains `marker`, from /proc.
fn alive_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
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
        })
        .unwrap_or_default()
}

#[test]
fn a_setsid_grandchild_of_a_graded_program_is_gone_when_grading_returns() {
    if !sandboxed_or_skip("a setsid() descendant leaves the process group parley kills") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let started = scratch.path().join("grandchild-started");
    let marker = format!("parley-setsid-grandchild-{}", std::process::id());
    // Double fork and setsid: the grandchild is in a session of its own, its parent has
    // exited, and it ignores SIGTERM. The program waits until it runs, then is a correct
    // echo client.
    let script = format!(
        "( setsid bash -c 'trap \"\" TERM; echo up > {started}; exec -a {name} sleep 60' & ); \
         until [ -s {started} ]; do sleep 0.01; done; exec python3 {client} \"$0\" \"$1\"",
        started = started.display(),
        name = quoted(&marker),
        client = program("echo-client/good.py"),
    );
    let command = vec![
        "bash".into(),
        "-c".into(),
        script,
        "{host}".into(),
        "{port}".into(),
    ];
    let sc = scenario("grading/echo-client.yaml");
    let o = runtime().block_on(grade_client(&sc, None, &options(command, Isolation::Auto)));
    assert_eq!(o.status, Status::Passed, "{}", describe(&o));
    assert!(started.exists(), "the grandchild never ran");
    // Gone when grading returns: no waiting.
    assert_eq!(
        alive_with(&marker),
        Vec::<i32>::new(),
        "the setsid grandchild survived grading"
    );
}

/// An echo server that accepts exactly one connection, serves it, and exits: a probe
/// connection for readiness would use up its only connection.
const ACCEPTS_ONCE: &str = "import socket,sys
s=socket.socket()
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('127.0.0.1',int(sys.argv[1])))
s.listen(1)
c,_=s.accept()
s.close()
while True:
    d=c.recv(4096)
    if not d:
        break
    c.sendall(d)
c.close()
";

#[rstest]
#[case::sandboxed(Isolation::Auto)]
#[case::fallback(Isolation::Off)]
fn a_spawned_server_is_found_ready_in_its_namespace_without_using_up_a_connection(
    #[case] isolation: Isolation,
) {
    sandboxed(isolation);
    let scratch = tempfile::tempdir().unwrap();
    let once = scratch.path().join("accepts_once.py");
    std::fs::write(&once, ACCEPTS_ONCE).unwrap();
    let sc = scenario("echo/basic.yaml");
    for server in [program("echo-server/good.py"), once.display().to_string()] {
        let o = runtime().block_on(run_against_program(
            &sc,
            &options(vec!["python3".into(), server.clone(), "{port}".into()], isolation),
        ));
        assert_eq!(o.status, Status::Passed, "{server}: {}", describe(&o));
    }
}
