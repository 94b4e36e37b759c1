//! Every example in `docs/scenarios.md` is a complete file that parley accepts.
//!
//! A ```yaml block starting with `# file: NAME` is written to a scratch directory under
//! `target/` (so `../../fixtures/...` paths resolve as they would from `scenarios/x/`);
//! then every block that is not a fragment (`_NAME`) must load without error. A block
//! starting with `# rubric.yaml` is a rubric for `parley grade --rubric` and must load as one.

use std::path::{Path, PathBuf};

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
fn every_example_of_the_scenario_language_loads() {
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
        if let Err(e) = parley::scenario::load(&dir.join(name)) {
            panic!(
                "docs/scenarios.md example {name} does not load:\n{}",
                e.render(false)
            );
        }
        checked += 1;
    }
    assert!(checked >= 14);
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
