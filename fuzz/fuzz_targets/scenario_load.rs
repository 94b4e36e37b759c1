//! The scenario loader from bytes: parse and plan, with small limits, must never panic;
//! every error must render.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use parley::scenario::{self, Limits};

const LIMITS: Limits = Limits {
    max_steps: 2_000,
    max_literal_bytes: 1 << 20,
    max_yaml_bytes: 1 << 20,
    max_includes: 100,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Relative includes and payloads resolve in a folder that does not exist.
    let path = Path::new("/nonexistent/parley-fuzz/scenarios/fuzz/input.yaml");
    match scenario::load_str(path, text, LIMITS) {
        Ok(s) => {
            let _ = s.var_names();
            let _ = s.secret_values(&Default::default());
        }
        Err(e) => {
            let _ = e.render(false);
            let _ = e.to_string();
        }
    }
});
