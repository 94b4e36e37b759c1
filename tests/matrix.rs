//! The conformance matrix (`tests/matrix.yaml`, rendered as `docs/matrix.md`): one trial
//! per server plays its bundled suite against the real server and compares every verdict
//! with the file; one more checks that the page is the file's rendering.
//!
//! A server that is not installed is reported as ignored, or fails under
//! `PARLEY_REQUIRE_PEERS=1` (`parley_tests::trials`). `PARLEY_UPDATE_MATRIX=1` rewrites
//! `docs/matrix.md` from the file instead of failing on a difference.

use std::collections::BTreeMap;
use std::path::Path;

use parley::engine::{self, RunConfig};
use parley::proto::Protocol;
use parley_tests::matrix::{self, Observed};
use parley_tests::peers::{
    self, BUSYBOX, LIGHTTPD, NGINX, PROFTPD, PYFTPDLIB, PYTHON3, Peer, ROOT, TWISTED, VSFTPD,
};
use parley_tests::trials::{Need, peer_test, plain_test, run};
use parley_tests::{describe_verbose, runtime};

/// How the tests start one server of the matrix.
struct Row {
    id: &'static str,
    needs: &'static [Need],
    start: fn(&Path) -> Peer,
    /// Scenarios played at once (single event loops stall on overlapping transfers).
    jobs: usize,
}

const FTP_ROOT: &str = "ftp-root";
const WWW: &str = "www";

fn rows() -> Vec<Row> {
    vec![
        Row {
            id: "vsftpd",
            needs: &[VSFTPD],
            start: peers::vsftpd,
            jobs: 2,
        },
        Row {
            id: "vsftpd-ascii",
            needs: &[VSFTPD],
            start: |r| peers::vsftpd_with(r, "ascii_download_enable=YES\n", false),
            jobs: 2,
        },
        Row {
            id: "vsftpd-no-port",
            needs: &[VSFTPD],
            start: |r| peers::vsftpd_with(r, "port_enable=NO\n", false),
            jobs: 2,
        },
        Row {
            id: "vsftpd-no-pasv",
            needs: &[VSFTPD],
            start: |r| peers::vsftpd_with(r, "pasv_enable=NO\n", false),
            jobs: 2,
        },
        Row {
            id: "vsftpd-chroot",
            needs: &[VSFTPD, ROOT],
            start: |r| peers::vsftpd_with(r, "", true),
            jobs: 2,
        },
        Row {
            id: "pyftpdlib",
            needs: &[PYTHON3, PYFTPDLIB],
            start: peers::pyftpdlib,
            jobs: 1,
        },
        Row {
            id: "proftpd",
            needs: &[PROFTPD, ROOT],
            start: peers::proftpd,
            jobs: 2,
        },
        Row {
            id: "twisted",
            needs: &[PYTHON3, TWISTED],
            start: |r| peers::fixture_server("twisted", "twisted_ftpd.py", r, &[]),
            jobs: 1,
        },
        Row {
            id: "pyftpdlib-sequential-pasv",
            needs: &[PYTHON3, PYFTPDLIB],
            start: |r| peers::fixture_server("faulty_ftpd", "faulty_ftpd.py", r, &["--sequential-pasv"]),
            jobs: 1,
        },
        Row {
            id: "pyftpdlib-probe-users",
            needs: &[PYTHON3, PYFTPDLIB],
            start: |r| peers::fixture_server("faulty_ftpd", "faulty_ftpd.py", r, &["--probe-users"]),
            jobs: 1,
        },
        Row {
            id: "pyftpdlib-no-login-limit",
            needs: &[PYTHON3, PYFTPDLIB],
            start: |r| peers::fixture_server("faulty_ftpd", "faulty_ftpd.py", r, &["--no-login-limit"]),
            jobs: 1,
        },
        Row {
            id: "nginx",
            needs: &[NGINX],
            start: peers::nginx,
            jobs: 2,
        },
        Row {
            id: "lighttpd",
            needs: &[LIGHTTPD],
            start: peers::lighttpd,
            jobs: 2,
        },
        Row {
            id: "http.server",
            needs: &[PYTHON3],
            start: peers::python_http_server,
            jobs: 2,
        },
        Row {
            id: "busybox",
            needs: &[BUSYBOX],
            start: peers::busybox_httpd,
            jobs: 2,
        },
        Row {
            id: "lowercase-close",
            needs: &[PYTHON3],
            start: |r| peers::fixture_server("lowercase_httpd", "lowercase_httpd.py", r, &[]),
            jobs: 2,
        },
        Row {
            id: "lenient-request-line",
            needs: &[PYTHON3],
            start: |r| {
                peers::fixture_server(
                    "lowercase_httpd",
                    "lowercase_httpd.py",
                    r,
                    &["--lenient-request-line"],
                )
            },
            jobs: 2,
        },
        Row {
            id: "keeps-open",
            needs: &[PYTHON3],
            start: |r| peers::fixture_server("keepalive_httpd", "keepalive_httpd.py", r, &[]),
            jobs: 2,
        },
    ]
}

fn main() {
    let matrix = matrix::load();
    let rows = rows();
    let mut trials = vec![
        plain_test(
            "matrix_doc_is_rendered_from_the_file",
            matrix_doc_is_rendered_from_the_file,
        ),
        plain_test(
            "every_server_of_the_file_has_a_test_and_every_test_a_server",
            every_server_of_the_file_has_a_test_and_every_test_a_server,
        ),
    ];
    for row in rows {
        let Some(server) = matrix.servers.iter().find(|s| s.id == row.id) else {
            continue;
        };
        let protocol = server.protocol.clone();
        let id = row.id;
        trials.push(peer_test(
            &format!("{id}_gives_the_verdicts_of_the_matrix"),
            row.needs,
            move || play_row(id, &protocol, row.start, row.jobs),
        ));
    }
    run(trials)
}

fn play_row(id: &str, protocol: &str, start: fn(&Path) -> Peer, jobs: usize) {
    let (root, proto) = match protocol {
        "ftp" => (FTP_ROOT, Protocol::Ftp),
        _ => (WWW, Protocol::Http),
    };
    let peer = start(&peers::fixture(root));
    let config = RunConfig {
        targets: BTreeMap::from([(proto, peer.addr.to_string())]),
        jobs,
        ..RunConfig::default()
    };
    let files = matrix::suite(protocol);
    let outcomes = runtime().block_on(engine::run(&files, &config));
    assert_eq!(outcomes.len(), files.len(), "{id}: one outcome per scenario");
    let matrix = matrix::load();
    let server = matrix.servers.iter().find(|s| s.id == id).expect("the row");
    let mut wrong = Vec::new();
    let mut measured = String::new();
    for o in &outcomes {
        let seen = Observed::of(o);
        let expected = server.expect.get(&o.id);
        if !(seen.status == "passed" && seen.rules.is_empty()) {
            measured.push_str(&format!(
                "    {}: {{ status: {}, rules: [{}] }}\n",
                o.id,
                seen.status,
                seen.rules.join(", ")
            ));
        }
        if !seen.matches(expected) {
            wrong.push(format!(
                "{}: the matrix says {:?}, parley says {} {:?} (notes {:?})\n{}",
                o.id,
                expected.map(|e| (&e.status, &e.rules, &e.notes)),
                seen.status,
                seen.rules,
                seen.notes,
                describe_verbose(o)
            ));
        }
    }
    for listed in server.expect.keys() {
        assert!(
            outcomes.iter().any(|o| &o.id == listed),
            "{id}: tests/matrix.yaml lists {listed}, which is not in the suite"
        );
    }
    assert!(
        wrong.is_empty(),
        "{id} ({}): {} verdict(s) differ from tests/matrix.yaml; measured (all but clean passes):\n{measured}\n{}",
        peer.name,
        wrong.len(),
        wrong.join("\n")
    );
}

fn matrix_doc_is_rendered_from_the_file() {
    let text = matrix::render(&matrix::load());
    let path = matrix::doc_path();
    if std::env::var("PARLEY_UPDATE_MATRIX").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("docs/matrix.md is written");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "docs/matrix.md is not the rendering of tests/matrix.yaml: run \
         `PARLEY_UPDATE_MATRIX=1 cargo test -p parley-tests --test matrix matrix_doc` and commit it"
    );
}

fn every_server_of_the_file_has_a_test_and_every_test_a_server() {
    let matrix = matrix::load();
    let rows = rows();
    for s in &matrix.servers {
        assert!(
            rows.iter().any(|r| r.id == s.id),
            "tests/matrix.yaml has {}, which tests/matrix.rs cannot start",
            s.id
        );
    }
    for r in &rows {
        assert!(
            matrix.servers.iter().any(|s| s.id == r.id),
            "tests/matrix.rs starts {}, which tests/matrix.yaml does not list",
            r.id
        );
    }
}
