//! FTP (RFC 959, RFC 1123 §4.1, RFC 2577) checks, sans-I/O (stub: being written).

use super::{Dir, Frame, Inspector, MessageView, Mismatch, exact_match};
use crate::finding::Finding;

/// Judges one FTP conversation (control and data connections).
#[derive(Debug, Default)]
pub struct FtpInspector {}

impl FtpInspector {
    /// A fresh inspector.
    pub fn new() -> FtpInspector {
        FtpInspector::default()
    }
}

impl Inspector for FtpInspector {
    fn frame(&mut self, _dir: Dir, _conn: &str, buf: &[u8], eof: bool) -> Frame {
        match buf.iter().position(|b| *b == b'\n') {
            Some(p) => Frame::Complete(p + 1),
            None if eof => Frame::Complete(buf.len()),
            None => Frame::Partial,
        }
    }

    fn inspect(&mut self, _dir: Dir, _conn: &str, _msg: &[u8], _findings: &mut Vec<Finding>) -> MessageView {
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
