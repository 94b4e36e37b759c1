#!/usr/bin/env bash
# Regenerates the report screenshots shown in the README with headless Chromium:
#   docs/report-run.png   parley run scenarios/ftp/list-active.yaml --report html=...
#   docs/report-class.png parley grade (fixtures/class, http-get) --report html=...
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --quiet -- run scenarios/ftp/list-active.yaml --report "html=$out/run.html" >/dev/null
cargo run --quiet -- grade scenarios/grading/http-get.yaml --submissions fixtures/class \
    --cmd 'python3 {dir}/get.py {host} {port}' --report "html=$out/class.html" >/dev/null || true
shot() {
    /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$out/profile" --window-size="$3" --screenshot="$2" "file://$1" 2>/dev/null
}
shot "$out/run.html" docs/report-run.png 1280,1300
shot "$out/class.html" docs/report-class.png 1280,1100
