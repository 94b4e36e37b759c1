//! parley's snapshot files are insta's: insta's own reader loads what `--snapshot DIR`
//! writes (header fields and text), and insta's writer — what `cargo insta accept` uses
//! to store a pending snapshot — gives back the same bytes, so a file accepted with
//! cargo-insta and one accepted with `parley review` are the same file.

use parley::outcome::Party;
use parley::snapshot::{Metadata, SnapFile};

fn sample() -> SnapFile {
    let scenario = parley_tests::bundled("ftp/list-passive.yaml");
    let rt = parley_tests::runtime();
    let outcome = rt.block_on(parley::engine::run_one(
        &scenario,
        &parley::engine::RunConfig::default(),
    ));
    assert_eq!(
        outcome.status,
        parley::outcome::Status::Passed,
        "{}",
        parley_tests::describe(&outcome)
    );
    SnapFile {
        metadata: Metadata {
            source: Some("scenarios/ftp/list-passive.yaml".into()),
            description: Some(scenario.name.clone()),
            expression: Some(
                "parley run scenarios/ftp/list-passive.yaml --target ftp=127.0.0.1:[port]".into(),
            ),
            info: vec![
                ("scenario".into(), scenario.id.clone()),
                ("target".into(), "127.0.0.1:[port]".into()),
                ("variant".into(), "byte-at-a-time".into()),
            ],
        },
        contents: parley::report::snapshot::normalized(&outcome.transcript, Party::Client, &[]),
    }
}

#[test]
fn insta_reads_the_header_and_the_text_parley_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ftp__list-passive.snap");
    let file = sample();
    file.write(&path).unwrap();
    let read = insta::Snapshot::from_file(&path).expect("insta reads the file");
    let meta = read.metadata();
    assert_eq!(meta.source(), file.metadata.source.as_deref());
    assert_eq!(meta.expression(), file.metadata.expression.as_deref());
    assert_eq!(meta.description(), file.metadata.description.as_deref());
    let text = read.as_text().expect("a text snapshot").to_string();
    assert_eq!(text, parley::snapshot::normalize_contents(&file.contents));
    assert!(text.contains("[data] S> \"drwxr-xr-x"), "{text}");
}

#[test]
fn insta_writes_back_the_same_bytes_as_cargo_insta_accept_would() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.snap");
    let theirs = dir.path().join("theirs.snap");
    let mut file = sample();
    // Quoting: a value with `:`, one that reads as a number, one with a quote.
    file.metadata.info.push(("port".into(), "2121".into()));
    file.metadata.info.push(("note".into(), "say \"hi\"".into()));
    file.write(&ours).unwrap();
    insta::Snapshot::from_file(&ours).unwrap().save(&theirs).unwrap();
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        std::fs::read_to_string(&ours).unwrap()
    );
    // And parley reads what insta wrote.
    assert_eq!(SnapFile::read(&theirs).unwrap(), SnapFile::read(&ours).unwrap());
}
