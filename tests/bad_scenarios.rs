//! The corpus of broken scenario files in `fixtures/bad-scenarios/`: each must be refused
//! with its own precise diagnostic — `file:line:col`, the offending line, and what is
//! allowed — never a panic or a silent skip.

use std::collections::BTreeSet;
use std::path::PathBuf;

use parley::scenario::{self, ScenarioError};
use rstest::rstest;

fn load(name: &str) -> ScenarioError {
    let path = parley_tests::fixtures_dir().join("bad-scenarios").join(name);
    match scenario::load(&path) {
        Ok(s) => panic!("{name} loaded as a valid scenario ({} steps)", s.steps.len()),
        Err(e) => e,
    }
}

#[rstest]
#[case::yaml_syntax(
    "yaml-syntax.yaml",
    5,
    14,
    "did not find expected key",
    "check the indentation"
)]
#[case::tab_indent("tab-indent.yaml", 4, 1, "cannot start any token", "spaces, not tabs")]
#[case::unknown_field(
    "unknown-field.yaml",
    3,
    1,
    "unknown field `varz`",
    "expected one of `$schema`, `name`"
)]
#[case::unknown_step_field(
    "unknown-step-field.yaml",
    5,
    5,
    "unknown field `sever`",
    "`client`, `server`, `open`"
)]
#[case::wrong_type(
    "wrong-type.yaml",
    4,
    3,
    "invalid type: map, expected a list of steps",
    "wrong type"
)]
#[case::unknown_variable(
    "unknown-variable.yaml",
    6,
    19,
    "unknown variable `usr`",
    "variables here: authority, host, http_date, port, target, user"
)]
#[case::invalid_regex("invalid-regex.yaml", 6, 14, "invalid regular expression", "unclosed group")]
#[case::empty_steps("empty-steps.yaml", 3, 8, "`steps` is empty", "at least one step")]
#[case::bad_include(
    "bad-include.yaml",
    4,
    14,
    "cannot include",
    "relative to the file that includes it"
)]
#[case::include_cycle("include-cycle.yaml", 4, 14, "includes itself", "included from")]
#[case::unknown_protocol(
    "unknown-protocol.yaml",
    2,
    11,
    "unknown variant `smtp`",
    "expected one of `echo`, `http`, `ftp`"
)]
#[case::two_actions(
    "two-actions.yaml",
    4,
    5,
    "this step has 2 actions (`client`, `server`)",
    "exactly one of"
)]
#[case::no_action("no-action.yaml", 5, 5, "this step does nothing", "give it one of `client`")]
#[case::missing_name(
    "missing-name.yaml",
    1,
    1,
    "missing field `name`",
    "needs `name`, `protocol` and `steps`"
)]
#[case::bad_duration(
    "bad-duration.yaml",
    3,
    15,
    "unknown unit `h` in `5h`",
    "use `ms`, `s` or `m`"
)]
#[case::unknown_rule("unknown-rule.yaml", 6, 11, "unknown rule `ECHO-9`", "parley explain --list")]
#[case::bad_hex("bad-hex.yaml", 4, 13, "`hex` has 5 digits", "two digits make an octet")]
#[case::use_before_open(
    "use-before-open.yaml",
    5,
    9,
    "`second` is used before it is opened",
    "add `open: second`"
)]
#[case::matcher_wrong_protocol(
    "matcher-wrong-protocol.yaml",
    6,
    7,
    "`headers` is an HTTP matcher",
    "this scenario speaks echo"
)]
#[case::capture_used_early(
    "capture-used-early.yaml",
    4,
    20,
    "variable `token` is used before step 2",
    "capture it earlier"
)]
#[case::bad_template(
    "bad-template.yaml",
    4,
    13,
    "`{{ 1st }}` is not a variable reference",
    "starting with a letter"
)]
#[case::close_unopened("close-unopened.yaml", 7, 9, "`data` is not open here", "cannot be closed")]
#[case::unitless_duration(
    "unitless-duration.yaml",
    3,
    15,
    "`5` has no unit: write `5s` for seconds or `5ms` for milliseconds",
    "step_timeout"
)]
#[case::huge_duration(
    "huge-duration.yaml",
    3,
    10,
    "`99999999999999999999s` is longer than the limit of 1 hour",
    "timeout"
)]
#[case::include_device(
    "include-device.yaml",
    4,
    14,
    "cannot include `/dev/zero`: it is a character device, not a regular file",
    "parley reads only regular files"
)]
#[case::payload_device(
    "payload-device.yaml",
    4,
    13,
    "cannot read payload file `/dev/zero`: it is a character device",
    "parley reads only regular files"
)]
#[case::include_not_yaml(
    "include-not-yaml.yaml",
    1,
    1,
    "unknown field `This is a long line of prose, not YAML`",
    "included from"
)]
#[case::several_errors("several-errors.yaml", 6, 19, "unknown variable `usr`", "error: 3 errors in")]
#[case::unknown_secret_field(
    "unknown-secret-field.yaml",
    4,
    39,
    "unknown field `secrte`, expected `value` or `secret`",
    "did you mean `secret`?"
)]
#[case::ambiguous_branches(
    "ambiguous-branches.yaml",
    12,
    13,
    "the alternative `second` can never be chosen: `first` begins with the same message",
    "make the first message of each alternative different"
)]
#[case::branch_without_message(
    "branch-without-message.yaml",
    5,
    5,
    "leave `main` in different states",
    "must begin with the message that chooses it (only `listen` steps may come before it)"
)]
#[case::branches_disagree(
    "branches-disagree.yaml",
    5,
    5,
    "the alternatives of this `one_of` leave `data` in different states: `passive` and `nothing`",
    "must both open, close or leave it alike"
)]
fn broken_scenario_is_refused_at_its_line_and_column(
    #[case] file: &str,
    #[case] line: usize,
    #[case] col: usize,
    #[case] message: &str,
    #[case] more: &str,
) {
    let err = load(file);
    let d = err
        .diagnostic()
        .unwrap_or_else(|| panic!("{file}: no diagnostic: {err}"));
    let expected_file = PathBuf::from("bad-scenarios").join(file);
    assert!(
        d.file.ends_with(&expected_file) || ["include-cycle.yaml", "include-not-yaml.yaml"].contains(&file),
        "{file}: error in {}",
        d.file.display()
    );
    assert_eq!(
        (d.line, d.col),
        (line, col),
        "{file}: wrong place\n{}",
        d.render(false)
    );
    let rendered = d.render(false);
    assert!(
        rendered.contains(message),
        "{file}: message missing `{message}`:\n{rendered}"
    );
    assert!(
        rendered.contains(more),
        "{file}: rendering missing `{more}`:\n{rendered}"
    );
    // rustc style: the location line and the offending source line.
    assert!(rendered.contains(&format!(":{line}:{col}")), "{rendered}");
    let source_line = d.source.lines().nth(line - 1).unwrap_or_default();
    let source_line = source_line.replace('\t', "    ");
    // A long line is shown cropped around the error.
    let shown = match source_line.trim() {
        long if long.len() > 240 => &long[..60],
        line => line,
    };
    assert!(
        rendered.contains(shown),
        "{file}: the offending line is not shown:\n{rendered}"
    );
}

/// The scenario files of the corpus directory, by name: every `.yaml` file that is not a
/// fragment (`_name.yaml`, read only through an include).
fn corpus_files() -> BTreeSet<String> {
    let dir = parley_tests::fixtures_dir().join("bad-scenarios");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && !name.starts_with('_'))
        .collect()
}

#[test]
fn every_file_of_the_corpus_is_refused() {
    let dir = parley_tests::fixtures_dir().join("bad-scenarios");
    let files = scenario::discover(std::slice::from_ref(&dir)).unwrap();
    // Discovery finds every file of the directory, so none escapes the checks below.
    let found: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(found, corpus_files());
    for file in files {
        assert!(scenario::load(&file).is_err(), "{} loaded", file.display());
    }
}

#[test]
fn every_file_of_the_corpus_has_its_own_case() {
    // The first argument of each case attribute of the table above is a file; the table
    // and the directory name the same files, so a new broken file is checked for its
    // exact place and message, not only for being refused.
    let source = include_str!("bad_scenarios.rs");
    let cases: BTreeSet<String> = source
        .split(concat!("#[case", "::"))
        .skip(1)
        .filter_map(|case| case.split('"').nth(1).map(str::to_string))
        .collect();
    assert_eq!(cases, corpus_files());
}

#[test]
fn include_cycle_is_reported_in_the_fragment_with_where_it_was_included() {
    let err = load("include-cycle.yaml");
    let d = err.diagnostic().unwrap();
    assert!(d.file.ends_with("_cycle.yaml"));
    assert!(
        d.notes.iter().any(|n| n.contains("include-cycle.yaml:4:5")),
        "{:?}",
        d.notes
    );
}

#[test]
fn several_errors_of_a_file_are_all_reported_in_order() {
    let err = load("several-errors.yaml");
    let d = err.diagnostic().unwrap();
    assert_eq!(d.count(), 3);
    let places: Vec<(usize, usize)> = std::iter::once(d)
        .chain(d.more.iter())
        .map(|d| (d.line, d.col))
        .collect();
    assert_eq!(places, [(6, 19), (8, 9), (10, 9)]);
    assert!(err.to_string().ends_with("(and 2 more errors)"), "{err}");
    let rendered = d.render(false);
    assert!(
        rendered.contains("`data` is used before it is opened"),
        "{rendered}"
    );
    assert!(rendered.contains("`second` is not open here"), "{rendered}");
}

#[test]
fn a_file_that_is_not_yaml_is_quoted_one_line_at_most() {
    let rendered = load("include-not-yaml.yaml").render(false);
    assert!(!rendered.contains("second line"), "{rendered}");
    assert!(rendered.len() < 2000, "{} bytes:\n{rendered}", rendered.len());
}

#[test]
fn a_missing_file_is_a_read_error_naming_the_path() {
    let err = scenario::load(std::path::Path::new("no/such/scenario.yaml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(err.to_string().contains("no/such/scenario.yaml"), "{err}");
}

#[test]
fn rendered_diagnostics_of_the_corpus() {
    // One snapshot of every rendering, so a change in wording is reviewed with `cargo insta review`.
    let dir = parley_tests::fixtures_dir().join("bad-scenarios");
    let mut all = String::new();
    for file in scenario::discover(std::slice::from_ref(&dir)).unwrap() {
        let err = scenario::load(&file).unwrap_err();
        all.push_str(&err.render(false));
        all.push_str("\n\n");
    }
    let settings = parley_tests::snapshot_settings();
    settings.bind(|| insta::assert_snapshot!("bad_scenarios_rendered", all));
}
