//! HTTP/1.0 (RFC 1945) and RFC 2616 checks, sans-I/O (stub: being written).

use super::{Dir, Frame, Inspector, MessageView, Mismatch, exact_match};
use crate::finding::Finding;
use crate::rules::Profile;

/// Judges one HTTP conversation.
#[derive(Debug)]
pub struct HttpInspector {
    profile: Profile,
}

impl HttpInspector {
    /// An inspector for `profile`.
    pub fn new(profile: Profile) -> HttpInspector {
        HttpInspector { profile }
    }
}

impl Inspector for HttpInspector {
    fn frame(&mut self, _dir: Dir, _conn: &str, buf: &[u8], eof: bool) -> Frame {
        if eof {
            Frame::Complete(buf.len())
        } else {
            Frame::Partial
        }
    }

    fn inspect(&mut self, _dir: Dir, _conn: &str, _msg: &[u8], _findings: &mut Vec<Finding>) -> MessageView {
        let _ = self.profile;
        MessageView::default()
    }

    fn literal_matches(
        &self,
        _dir: Dir,
        expected: &[u8],
        msg: &[u8],
        _view: &MessageView,
    ) -> Result<(), Mismatch> {
        exact_match(expected, msg)
    }
}
