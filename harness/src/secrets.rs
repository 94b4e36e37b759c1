//! Masking secret variables (`vars: { pass: { value: ..., secret: true } }`) in what a
//! run produced: one function, [`Outcome::mask`], applied to every finished outcome
//! before any report sees it, so no report format can leak a secret.

use crate::outcome::{EventKind, Outcome};
pub use crate::scenario::Secrets;

impl Outcome {
    /// Replaces every secret value by `****` in the findings (message, expected, actual,
    /// hint), the transcript (bytes and error messages), the error, and the program's
    /// command line and output tail.
    pub fn mask(&mut self, secrets: &Secrets) {
        if secrets.is_empty() {
            return;
        }
        for f in &mut self.findings {
            secrets.mask_string(&mut f.message);
            for text in [&mut f.expected, &mut f.actual].into_iter().flatten() {
                secrets.mask_string(text);
            }
            if let std::borrow::Cow::Owned(hint) = secrets.mask_str(&f.hint) {
                f.hint = hint.into();
            }
        }
        for e in &mut self.transcript.events {
            match &mut e.kind {
                EventKind::Data { bytes, .. } => {
                    if let std::borrow::Cow::Owned(masked) = secrets.mask_bytes(bytes) {
                        *bytes = masked;
                    }
                }
                EventKind::Error { message } => secrets.mask_string(message),
                EventKind::Listen { .. }
                | EventKind::Open { .. }
                | EventKind::Close { .. }
                | EventKind::Omitted { .. } => {}
            }
        }
        if let Some(err) = &mut self.error {
            secrets.mask_string(&mut err.message);
        }
        if let Some(p) = &mut self.program {
            secrets.mask_string(&mut p.command);
            secrets.mask_string(&mut p.stderr_tail);
            secrets.mask_string(&mut p.stdout_head);
        }
    }
}
