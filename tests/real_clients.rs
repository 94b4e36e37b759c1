//! Real, conformant clients graded by parley playing the server: curl (HTTP/1.0 GET and
//! POST, FTP active-mode LIST), Python's `http.client` and `ftplib`, and lftp. They must
//! pass, plain and under every fault variant of the scenario: a finding one of them earns
//! is either a real deviation, documented here, or a parley bug.
//!
//! A test whose client is not installed is reported as ignored, unless
//! `PARLEY_REQUIRE_PEERS=1` (set by `.ci/run`), which makes it a failure naming the client.

use parley::engine::PlayOptions;
use parley::engine::grade::{GradeOptions, grade_client};
use parley::outcome::Status;
use parley::rules::Severity;
use parley_tests::peers::{CURL, LFTP, PYTHON3};
use parley_tests::trials::{peer_test, run};
use parley_tests::{bundled, describe_verbose, runtime};

fn main() {
    run(vec![
        peer_test("curl_http10_get_passes", &[CURL], curl_http10_get_passes),
        peer_test(
            "curl_http10_post_of_json_passes",
            &[CURL],
            curl_http10_post_of_json_passes,
        ),
        peer_test(
            "python_http_client_get_passes",
            &[PYTHON3],
            python_http_client_get_passes,
        ),
        peer_test(
            "python_http_client_post_passes",
            &[PYTHON3],
            python_http_client_post_passes,
        ),
        peer_test(
            "curl_ftp_active_list_passes",
            &[CURL],
            curl_ftp_active_list_passes,
        ),
        peer_test(
            "python_ftplib_active_list_passes",
            &[PYTHON3],
            python_ftplib_active_list_passes,
        ),
        peer_test("lftp_active_list_passes", &[LFTP], lftp_active_list_passes),
    ])
}

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

/// Grades `curl -sS --max-time 60 ARGS...` with `scenario_path`.
fn assert_curl_passes(scenario_path: &str, args: &[&str]) {
    let mut command = vec!["curl", "-sS", "--max-time", "60"];
    command.extend_from_slice(args);
    assert_client_passes(scenario_path, &command);
}

fn curl_http10_get_passes() {
    assert_curl_passes(
        "grading/http-get.yaml",
        &["-i", "--http1.0", "http://{host}:{port}/status/418"],
    );
}

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

fn curl_ftp_active_list_passes() {
    assert_curl_passes(
        "grading/ftp-list-any-client.yaml",
        &["--disable-eprt", "-P", "127.0.0.1", "ftp://{host}:{port}/"],
    );
}

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

fn lftp_active_list_passes() {
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
