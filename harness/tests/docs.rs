//! Every example in `docs/scenarios.md` is a complete file that parley accepts **and
//! plays**: each one is played as the client against the bundled mock server of its
//! protocol (`parley::engine::run_one`, `RunConfig::default()`) and must pass. Every
//! matcher and payload form of the language has at least one such example.
//!
//! A ```yaml block starting with `# file: NAME` is written to a scratch directory under
//! `target/` (so `../../fixtures/...` paths resolve as they would from `scenarios/x/`);
//! then every block that is not a fragment (`_NAME`) must load without error and pass. A
//! block starting with `# rubric.yaml` is a rubric for `parley grade --rubric` and must
//! load as one.

use std::path::{Path, PathBuf};

use parley::engine::RunConfig;
use parley::outcome::Status;
use parley::report::human::{self, HumanOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn examples(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```yaml" {
            continue;
        }
        let mut block = Vec::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            block.push(l);
        }
        let name = block
            .first()
            .and_then(|l| {
                l.strip_prefix("# file: ")
                    .or_else(|| l.starts_with("# rubric.yaml").then_some("rubric.yaml"))
            })
            .unwrap_or_else(|| panic!("a yaml block without `# file: NAME`: {:?}", block.first()))
            .trim()
            .to_string();
        out.push((name, block.join("\n") + "\n"));
    }
    out
}

#[test]
fn every_example_of_the_scenario_language_loads_and_passes_against_the_mock() {
    let doc = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    let blocks = examples(&doc);
    assert!(blocks.len() >= 15, "only {} examples", blocks.len());
    std::fs::create_dir_all(root().join("target")).unwrap();
    let scratch = tempfile::Builder::new()
        .prefix("doc-examples-")
        .tempdir_in(root().join("target"))
        .unwrap();
    let dir = scratch.path();
    for (name, text) in &blocks {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (name, _) in &blocks {
        if name.starts_with('_') {
            continue;
        }
        if name == "rubric.yaml" {
            let rubric = parley::scenario::rubric::load(&dir.join(name)).unwrap_or_else(|e| {
                panic!(
                    "the rubric in docs/scenarios.md does not load:\n{}",
                    e.render(false)
                )
            });
            assert!(!rubric.rules.is_empty());
            continue;
        }
        let scenario = parley::scenario::load(&dir.join(name)).unwrap_or_else(|e| {
            panic!(
                "docs/scenarios.md example {name} does not load:\n{}",
                e.render(false)
            )
        });
        let outcome = runtime.block_on(parley::engine::run_one(&scenario, &RunConfig::default()));
        if outcome.status != Status::Passed {
            let opts = HumanOptions::default();
            failures.push(format!(
                "{}{}",
                human::status_line(&outcome, &opts),
                human::details(&outcome, &opts)
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "docs/scenarios.md examples that do not pass against the bundled mocks:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 14);
}

/// Every matcher and payload form of the language, and an example that uses it.
const LANGUAGE: &[&str] = &[
    "exact",
    "contains",
    "not_contains",
    "regex",
    "len",
    "code",
    "method",
    "path",
    "command",
    "headers",
    "body",
    "json",
    "json_at",
    "body_len",
    "text",
    "hex",
    "base64",
    "file",
    "octets",
    "repeat",
];

#[test]
fn every_matcher_and_payload_form_has_a_played_example() {
    let doc = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    let blocks = examples(&doc);
    for key in LANGUAGE {
        let used = blocks.iter().any(|(name, text)| {
            !name.starts_with('_')
                && name != "rubric.yaml"
                && text.lines().any(|l| {
                    let l = l.split('#').next().unwrap_or("");
                    l.contains(&format!("{key}:")) && !l.contains(&format!("_{key}:"))
                        || l.contains(&format!("{{ {key}:"))
                })
        });
        assert!(used, "no example in docs/scenarios.md uses `{key}:`");
    }
}

#[test]
fn the_error_shown_in_the_docs_is_what_parley_prints() {
    let doc = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    assert!(doc.contains("unknown field `sever`, expected one of `client`, `server`, `open`"));
    let err =
        parley::scenario::load(&root().join("fixtures/bad-scenarios/unknown-step-field.yaml")).unwrap_err();
    assert!(
        err.render(false)
            .contains("unknown field `sever`, expected one of `client`, `server`, `open`")
    );
}

/// The examples whose client steps carry matchers parley only checks when it plays the
/// server (`method`, `path`, `command`) are also played parley against parley: parley
/// as the server checks what parley as the client sends, and must pass.
#[test]
fn client_side_matchers_are_played_with_parley_as_the_server() {
    use parley::engine::{Endpoint, PlayOptions, play};
    use parley::scenario::Side;
    let doc = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    let blocks = examples(&doc);
    std::fs::create_dir_all(root().join("target")).unwrap();
    let scratch = tempfile::Builder::new()
        .prefix("doc-examples-")
        .tempdir_in(root().join("target"))
        .unwrap();
    for (name, text) in &blocks {
        std::fs::write(scratch.path().join(name), text).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut played = Vec::new();
    for (name, text) in &blocks {
        let server_side = ["method:", "path:", "command:"].iter().any(|k| text.contains(k));
        if name.starts_with('_') || name == "rubric.yaml" || !server_side {
            continue;
        }
        let scenario = parley::scenario::load(&scratch.path().join(name)).unwrap();
        let (server, client) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            let opts = PlayOptions::default();
            tokio::join!(
                play(&scenario, Side::Server, Endpoint::Accept(listener), &opts),
                play(&scenario, Side::Client, Endpoint::Connect(addr), &opts)
            )
        });
        let opts = HumanOptions::default();
        // The server side judges the client's requests and commands: it must pass. The
        // client side judges parley's own scripted replies (a grading example's replies
        // need not be a complete server's, e.g. no Date under strict11): it must finish.
        assert_ne!(
            client.status,
            Status::Error,
            "{name}: {}",
            human::details(&client, &opts)
        );
        assert_eq!(
            server.status,
            Status::Passed,
            "{name}, parley as the server:\n{}{}",
            human::status_line(&server, &opts),
            human::details(&server, &opts)
        );
        played.push(name.clone());
    }
    for must in ["http-matchers.yaml", "list-active.yaml"] {
        assert!(
            played.iter().any(|p| p == must),
            "{must} was not played both ways: {played:?}"
        );
    }
}
