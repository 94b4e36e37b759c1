//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed
//! by `.ci/run`) loads the report file and a probe script reads what a person would see
//! — the rendered arrows of the sequence diagram, their bands and their order on the
//! page, the pinned findings, the gradebook sorted and filtered by its own script — and
//! Chromium's console log must stay empty.
//!
//! Without Chromium the trials are reported as ignored (never as passed); under
//! `PARLEY_REQUIRE_PEERS=1` they fail, naming it.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use parley::engine::batch::{grade_all, submissions};
use parley::engine::grade::GradeOptions;
use parley::engine::{self, PlayOptions, RunConfig};
use parley::outcome::{Outcome, Status};
use parley::report::html;
use parley_tests::{bundled, peers_required, root, runtime, which};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser trial.
type Check = fn(&Path) -> Result<(), Failed>;

/// How long one Chromium run may take.
const BROWSER_DEADLINE: Duration = Duration::from_secs(60);

fn main() {
    let args = Arguments::from_args();
    let browser = which(CHROMIUM).or_else(|| which("chromium"));
    let missing = browser.is_none();
    let trials: Vec<(&str, Check)> = vec![
        (
            "html_run_report_draws_control_and_data_bands_with_port_list_150_226_in_order",
            run_report,
        ),
        (
            "html_class_report_gradebook_sorts_filters_and_links_to_pinned_findings",
            class_report,
        ),
        ("html_hostile_payloads_render_as_text_not_markup", hostile_report),
    ];
    let trials = trials
        .into_iter()
        .map(|(name, body)| {
            let browser = browser.clone();
            Trial::test(name, move || match &browser {
                Some(path) => body(path),
                None if peers_required() => Err(format!(
                    "PARLEY_REQUIRE_PEERS=1 but chromium is not installed at {CHROMIUM} (apt-get install chromium)"
                )
                .into()),
                None => Err("chromium is not installed".into()),
            })
            .with_ignored_flag(missing && !peers_required())
        })
        .collect();
    if missing && !peers_required() {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium); the browser trials are ignored"
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

/// What Chromium made of a page: the serialized DOM after its scripts ran, and the
/// console lines it logged.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

/// Loads `file` in headless Chromium and dumps its DOM, with a deadline.
fn browse(browser: &Path, file: &Path) -> Result<Rendered, Failed> {
    let profile = tempfile::tempdir()?;
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", browser.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut out = String::new();
        let mut err = String::new();
        let _ = stdout.read_to_string(&mut out);
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send((out, err));
    });
    let (dom, log) = match rx.recv_timeout(BROWSER_DEADLINE) {
        Ok(pair) => pair,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("chromium did not finish within {BROWSER_DEADLINE:?}").into());
        }
    };
    let status = child.wait()?;
    if !status.success() || dom.is_empty() {
        return Err(format!("chromium failed ({status}):\n{log}").into());
    }
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Ok(Rendered { dom, console })
}

/// The probe's JSON, read back from the `<pre id="probe">` it appends.
fn probe_result(dom: &str) -> Result<Value, Failed> {
    let start = dom
        .find("<pre id=\"probe\">")
        .ok_or("the probe script did not run (no #probe in the DOM)")?
        + "<pre id=\"probe\">".len();
    let end = dom[start..].find("</pre>").ok_or("#probe is not closed")? + start;
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    Ok(serde_json::from_str(&text)?)
}

/// Writes `html` with `probe` appended as a script after the report's own, loads it,
/// and checks the page's own health (its script ran, nothing on the console).
fn render_with_probe(browser: &Path, html: &str, probe: &str) -> Result<Value, Failed> {
    let dir = tempfile::tempdir()?;
    // The report as written must run clean on its own.
    let plain = dir.path().join("report.html");
    std::fs::write(&plain, html)?;
    let page = browse(browser, &plain)?;
    if !page.dom.contains("data-ready=\"1\"") {
        return Err("the report's script did not finish (no data-ready on <body>)".into());
    }
    if page.dom.contains("data-js-errors=\"") || !page.console.is_empty() {
        return Err(format!("console output or script errors: {:?}", page.console).into());
    }
    let probed = dir.path().join("probed.html");
    let at = html.rfind("</body>").ok_or("no </body>")?;
    let with_probe = format!("{}<script>{probe}</script>\n{}", &html[..at], &html[at..]);
    std::fs::write(&probed, with_probe)?;
    let page = browse(browser, &probed)?;
    if !page.console.is_empty() {
        return Err(format!("console output with the probe: {:?}", page.console).into());
    }
    probe_result(&page.dom)
}

/// A report references nothing outside itself.
fn self_contained(html: &str) -> Result<(), Failed> {
    for needle in ["src=", "href=\"http", "href='http", "url(", "@import", "<link"] {
        if html.contains(needle) {
            return Err(format!("the report references something outside itself: `{needle}`").into());
        }
    }
    Ok(())
}

const RUN_PROBE: &str = r#"
(function () {
  var run = document.querySelector('article.run[data-id="ftp::list-active"]');
  var box = function (el) { var r = el.getBoundingClientRect(); return {top: r.top, left: r.left, width: r.width, height: r.height}; };
  var out = {bands: [], arrows: []};
  run.querySelectorAll('.band').forEach(function (b) { var r = box(b); r.conn = b.getAttribute('data-conn'); out.bands.push(r); });
  run.querySelectorAll('.ev.arrow.data').forEach(function (a) {
    var r = box(a);
    r.conn = a.getAttribute('data-conn');
    r.from = a.getAttribute('data-from');
    r.text = a.querySelector('.payload').textContent;
    out.arrows.push(r);
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"#;

fn run_report(browser: &Path) -> Result<(), Failed> {
    let files: Vec<PathBuf> = ["ftp/list-active.yaml", "ftp/login.yaml"]
        .iter()
        .map(|p| root().join("scenarios").join(p))
        .collect();
    let outcomes = runtime().block_on(engine::run(&files, &RunConfig::default()));
    if let Some(bad) = outcomes.iter().find(|o| o.status != Status::Passed) {
        return Err(format!("{} did not pass against the mock: {:?}", bad.id, bad.findings).into());
    }
    let html = html::render(&outcomes);
    self_contained(&html)?;
    let seen = render_with_probe(browser, &html, RUN_PROBE)?;
    let bands = seen["bands"].as_array().ok_or("no bands")?;
    let band = |conn: &str| bands.iter().find(|b| b["conn"] == conn);
    let (main, data) = match (band("main"), band("data")) {
        (Some(m), Some(d)) => (m, d),
        _ => return Err(format!("expected a `main` and a `data` band, got {bands:?}").into()),
    };
    let right_of = |a: &Value, b: &Value| {
        a["left"].as_f64()
            >= Some(b["left"].as_f64().unwrap_or(0.0) + b["width"].as_f64().unwrap_or(0.0) - 1.0)
    };
    if !right_of(data, main) {
        return Err(format!("the data band is not beside the control band: {main} {data}").into());
    }
    let arrows = seen["arrows"].as_array().ok_or("no arrows")?;
    let find = |prefix: &str| {
        arrows
            .iter()
            .position(|a| a["text"].as_str().is_some_and(|t| t.starts_with(prefix)))
    };
    let order: Vec<(&str, Option<usize>)> = ["PORT ", "LIST", "150", "226"]
        .iter()
        .map(|p| (*p, find(p)))
        .collect();
    let mut last_top = f64::MIN;
    let mut last_index = None;
    for (prefix, index) in &order {
        let i = index.ok_or_else(|| format!("no `{prefix}` arrow in {arrows:?}"))?;
        let a = &arrows[i];
        if a["conn"] != "main" {
            return Err(format!("the `{prefix}` arrow is not on the control band: {a}").into());
        }
        let top = a["top"].as_f64().unwrap_or(f64::MIN);
        if top <= last_top || last_index.is_some_and(|l| i <= l) {
            return Err(
                format!("`{prefix}` is not drawn below the arrow before it: {order:?} {arrows:?}").into(),
            );
        }
        if a["width"].as_f64().unwrap_or(0.0) < 50.0 || a["height"].as_f64().unwrap_or(0.0) <= 0.0 {
            return Err(format!("the `{prefix}` arrow is not visible: {a}").into());
        }
        last_top = top;
        last_index = Some(i);
    }
    let from = |prefix: &str| arrows[find(prefix).unwrap_or(0)]["from"].clone();
    if from("PORT ") != "client" || from("150") != "server" {
        return Err("PORT should go from the client, 150 from the server".into());
    }
    let listing = arrows
        .iter()
        .find(|a| a["conn"] == "data" && a["text"].as_str().is_some_and(|t| t.contains("readme.txt")))
        .ok_or("no arrow on the data band carries the listing")?;
    if listing["top"].as_f64() <= arrows[find("LIST").unwrap_or(0)]["top"].as_f64() {
        return Err("the listing is drawn before LIST".into());
    }
    if !right_of(listing, main) {
        return Err("the listing arrow is not in the data band".into());
    }
    // CR/LF are visible on the page.
    let port = &arrows[find("PORT ").unwrap_or(0)];
    if !port["text"].as_str().is_some_and(|t| t.ends_with("\\r\\n")) {
        return Err(format!("the PORT arrow does not show its CR LF: {port}").into());
    }
    Ok(())
}

const CLASS_PROBE: &str = r#"
(function () {
  var out = {};
  var book = document.getElementById('gradebook');
  var heads = book.querySelectorAll('thead th');
  var total = Array.prototype.find.call(heads, function (th) { return th.textContent.trim() === 'total'; });
  var names = function () {
    return Array.prototype.filter.call(book.querySelectorAll('tbody tr'), function (r) { return !r.hidden; })
      .map(function (r) { return r.cells[0].textContent; });
  };
  out.initial = names();
  total.click();
  out.ascending = names();
  total.click();
  out.descending = names();
  var input = document.getElementById('gb-filter');
  input.value = 'H-RL-2';
  input.dispatchEvent(new Event('input'));
  out.filtered = names();
  out.count = document.getElementById('gb-count').textContent;
  input.value = '';
  input.dispatchEvent(new Event('input'));
  var lost = document.getElementById('gb-lost');
  lost.checked = true;
  lost.dispatchEvent(new Event('change'));
  out.lost = names();
  out.links = Array.prototype.map.call(book.querySelectorAll('tbody a'), function (a) {
    var target = document.querySelector(a.getAttribute('href'));
    return {href: a.getAttribute('href'), text: a.textContent, target: target ? (target.getAttribute('data-submission') + ' ' + target.getAttribute('data-id') + ' ' + (target.getAttribute('data-variant') || 'plain')) : null};
  });
  out.pinned = Array.prototype.map.call(document.querySelectorAll('article.run .pin .finding'), function (f) {
    var run = f.closest('article.run');
    var arrow = f.parentElement.previousElementSibling;
    while (arrow && !arrow.classList.contains('ev')) { arrow = arrow.previousElementSibling; }
    return {rule: f.getAttribute('data-rule'), submission: run.getAttribute('data-submission'),
            visible: f.getBoundingClientRect().height > 0,
            hint: f.querySelector('.hint').textContent,
            arrow: arrow ? arrow.textContent : null};
  });
  out.histogram = Array.prototype.map.call(document.querySelectorAll('#histogram .hist-row'), function (r) {
    return {rule: r.getAttribute('data-rule'), count: r.getAttribute('data-count'), width: r.querySelector('.bar').getBoundingClientRect().width};
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"#;

fn grade_class() -> Vec<Outcome> {
    let class = root().join("fixtures/class");
    let subs = submissions(&class, None).expect("fixtures/class is readable");
    let scenarios = vec![bundled("grading/http-get.yaml")];
    let base = GradeOptions {
        command: ["python3", "{dir}/get.py", "{host}", "{port}"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        dir: None,
        play: PlayOptions::default(),
    };
    runtime().block_on(grade_all(&subs, &scenarios, &base, true, 2, |_| {}))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn class_report(browser: &Path) -> Result<(), Failed> {
    let outcomes = grade_class();
    if outcomes.len() != 10 {
        return Err(format!("expected 5 submissions × 2 runs, got {}", outcomes.len()).into());
    }
    let html = html::render(&outcomes);
    self_contained(&html)?;
    let seen = render_with_probe(browser, &html, CLASS_PROBE)?;
    let initial = strings(&seen["initial"]);
    if initial != ["alice", "bob", "carol", "dave", "erin"] {
        return Err(format!("gradebook rows: {initial:?}").into());
    }
    // alice has 8/8, dave 7/8, the others 6/8: descending by total puts alice first and
    // dave second; ascending puts them last.
    let desc = strings(&seen["descending"]);
    let asc = strings(&seen["ascending"]);
    if desc.first().map(String::as_str) != Some("alice") || desc.get(1).map(String::as_str) != Some("dave") {
        return Err(format!("sorted by total, descending: {desc:?}").into());
    }
    if asc.last().map(String::as_str) != Some("alice") || asc.get(3).map(String::as_str) != Some("dave") {
        return Err(format!("sorted by total, ascending: {asc:?}").into());
    }
    if strings(&seen["filtered"]) != ["bob"] || seen["count"] != "1 of 5 submissions" {
        return Err(format!("filtered by H-RL-2: {:?} ({})", seen["filtered"], seen["count"]).into());
    }
    let lost = strings(&seen["lost"]);
    if lost.contains(&"alice".to_string()) || lost.len() != 4 {
        return Err(format!("only those who lost points: {lost:?}").into());
    }
    let links = seen["links"].as_array().ok_or("no links")?;
    if links.len() != 10 || links.iter().any(|l| l["target"].is_null()) {
        return Err(format!("every gradebook cell links to its run: {links:?}").into());
    }
    if !links
        .iter()
        .any(|l| l["target"] == "bob grading::http-get split-response" && l["text"] == "0/6")
    {
        return Err(format!("bob's split-response cell: {links:?}").into());
    }
    let pinned = seen["pinned"].as_array().ok_or("no pinned findings")?;
    let bob = pinned
        .iter()
        .find(|f| f["rule"] == "H-RL-2" && f["submission"] == "bob")
        .ok_or_else(|| format!("bob's H-RL-2 is not pinned to a message: {pinned:?}"))?;
    if bob["visible"] != true || !bob["hint"].as_str().is_some_and(|h| h.contains("hint:")) {
        return Err(format!("bob's finding is not shown with its hint: {bob}").into());
    }
    // Pinned under the request it is about.
    if !bob["arrow"]
        .as_str()
        .is_some_and(|a| a.contains("GET /status/418"))
    {
        return Err(format!("bob's H-RL-2 is not under his request: {bob}").into());
    }
    let histogram = seen["histogram"].as_array().ok_or("no histogram")?;
    for rule in ["H-RL-2", "H-HOST-1", "H-LEN-5", "H-RL-3"] {
        let row = histogram
            .iter()
            .find(|r| r["rule"] == rule)
            .ok_or_else(|| format!("{rule} is missing from the histogram: {histogram:?}"))?;
        if row["count"] != "1" || row["width"].as_f64().unwrap_or(0.0) <= 0.0 {
            return Err(format!("{rule}: {row}").into());
        }
    }
    Ok(())
}

const HOSTILE_PROBE: &str = r#"
(function () {
  var out = {
    pwned: document.body.getAttribute('data-pwned'),
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img').length,
    text: Array.prototype.map.call(document.querySelectorAll('.payload'), function (p) { return p.textContent; })
  };
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"#;

fn hostile_report(browser: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hostile.yaml");
    std::fs::write(
        &file,
        "name: \"</title><script>document.body.setAttribute('data-pwned','name')</script>\"\n\
         protocol: echo\nsteps:\n\
         \x20 - client: \"</script><script>document.body.setAttribute('data-pwned','1')</script><img src=x>\\r\\n\"\n\
         \x20 - server: \"<b>not what came back</b>\"\n",
    )?;
    let outcomes = runtime().block_on(engine::run(&[file], &RunConfig::default()));
    if outcomes.first().map(|o| o.status) != Some(Status::Failed) {
        return Err(format!("the hostile echo should fail its step: {outcomes:?}").into());
    }
    let html = html::render(&outcomes);
    let seen = render_with_probe(browser, &html, HOSTILE_PROBE)?;
    if !seen["pwned"].is_null() || seen["images"] != 0 {
        return Err(format!("a payload became markup: {seen}").into());
    }
    // The report's own script and the probe.
    if seen["scripts"] != 2 {
        return Err(format!("scripts in the page: {}", seen["scripts"]).into());
    }
    let texts = strings(&seen["text"]);
    if !texts
        .iter()
        .any(|t| t.starts_with("</script><script>document.body"))
    {
        return Err(format!("the payload is not shown as text: {texts:?}").into());
    }
    Ok(())
}
