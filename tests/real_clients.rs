//! Real, conformant clients graded by parley playing the server: curl (HTTP/1.0 GET and
//! POST, FTP active-mode LIST), Python's `http.client` and `ftplib`, and lftp. They must
//! pass, plain and under every fault variant of the scenario: a finding one of them earns
//! is either a real deviation, documented here, or a parley bug.
//!
//! Each test skips with a message when its client is not installed, unless
//! `PARLEY_REQUIRE_PEERS=1` (set by `.ci/run`).

use parley::engine::PlayOptions;
use parley::engine::grade::{GradeOptions, grade_client};
use parley::outcome::Status;
use parley::rules::Severity;
use parley_tests::{bundled, describe_verbose, runtime};

/// Grades `command` with `scenario_path`, plain and under each variant; every run must pass
/// with no error finding and full marks.
fn assert_client_passes(scenario_path: &str, command: &[&str]) {
    let sc = bundled(scenario_path);
    let opts = GradeOptions {
        command: command.iter().map(|s| s.to_string()).collect(),
        dir: None,
        play: PlayOptions::default(),
    };
    let mut variants: Vec<Option<(&str, &parley::scenario::plan::Faults)>> = vec![None];
    variants.extend(sc.variants.iter().map(|(n, f)| Some((n.as_str(), f))));
    let rt = runtime();
    for variant in variants {
        let o = rt.block_on(grade_client(&sc, variant, &opts));
        let label = variant.map(|(n, _)| n).unwrap_or("plain");
        assert_eq!(
            o.status,
            Status::Passed,
            "{} ({label}) with {scenario_path}:\n{}",
            command[0],
            describe_verbose(&o)
        );
        assert!(
            o.findings.iter().all(|f| f.severity != Severity::Error),
            "{}",
            describe_verbose(&o)
        );
        let (earned, total) = o.points();
        assert_eq!(earned, total, "{label}: {}", describe_verbose(&o));
    }
}

fn have(program: &str, hint: &str) -> bool {
    parley_tests::peer(program, hint).is_some()
}

/// Grades `curl -sS --max-time 10 ARGS...` with `scenario_path` (skipped without curl).
fn assert_curl_passes(scenario_path: &str, args: &[&str]) {
    if !have("curl", "apt-get install curl") {
        return;
    }
    let mut command = vec!["curl", "-sS", "--max-time", "10"];
    command.extend_from_slice(args);
    assert_client_passes(scenario_path, &command);
}

#[test]
fn curl_http10_get_passes() {
    assert_curl_passes(
        "grading/http-get.yaml",
        &["-i", "--http1.0", "http://{host}:{port}/status/418"],
    );
}

#[test]
fn curl_http10_post_of_json_passes() {
    assert_curl_passes(
        "grading/http-post.yaml",
        &[
            "-i",
            "--http1.0",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"name": "parley", "course": "networks", "city": "Zürich"}"#,
            "http://{host}:{port}/post",
        ],
    );
}

#[test]
fn python_http_client_get_passes() {
    assert_client_passes(
        "grading/http-get.yaml",
        &[
            "python3",
            "-c",
            "import http.client, sys\n\
             c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)\n\
             c.request('GET', '/status/418')\n\
             r = c.getresponse()\n\
             print(r.status, r.reason)\n\
             print(r.read().decode())\n\
             c.close()",
            "{host}",
            "{port}",
        ],
    );
}

#[test]
fn python_http_client_post_passes() {
    assert_client_passes(
        "grading/http-post.yaml",
        &[
            "python3",
            "-c",
            "import http.client, json, sys\n\
             body = json.dumps({'name': 'parley', 'course': 'networks', 'city': 'Zürich'}, ensure_ascii=False).encode()\n\
             c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)\n\
             c.request('POST', '/post', body=body, headers={'Content-Type': 'application/json'})\n\
             r = c.getresponse()\n\
             print(r.status, r.reason)\n\
             print(r.read().decode())\n\
             c.close()",
            "{host}",
            "{port}",
        ],
    );
}

#[test]
fn curl_ftp_active_list_passes() {
    assert_curl_passes(
        "grading/ftp-list-any-client.yaml",
        &["--disable-eprt", "-P", "127.0.0.1", "ftp://{host}:{port}/"],
    );
}

#[test]
fn python_ftplib_active_list_passes() {
    assert_client_passes(
        "grading/ftp-list-any-client.yaml",
        &[
            "python3",
            "-c",
            "import ftplib, sys\n\
             f = ftplib.FTP(timeout=10)\n\
             f.connect(sys.argv[1], int(sys.argv[2]))\n\
             f.login('anonymous', 'guest@example.com')\n\
             f.set_pasv(False)\n\
             f.retrlines('LIST')\n\
             f.quit()",
            "{host}",
            "{port}",
        ],
    );
}

#[test]
fn lftp_active_list_passes() {
    if !have("lftp", "apt-get install lftp") {
        return;
    }
    assert_client_passes(
        "grading/ftp-list-any-client.yaml",
        &[
            "lftp",
            "-c",
            "set ftp:passive-mode off; set net:max-retries 1; set net:timeout 10; \
             open -u anonymous,guest@example.com ftp://{host}:{port}; ls; quit",
        ],
    );
}
