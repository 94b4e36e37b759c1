//! RFC 862 echo: no framing of its own and no grammar; the checks are behavioural and
//! live in the scenarios (`rule: ECHO-n`). A message matches a literal only byte for byte.

use super::{Codec, Dir, Frame, Hooks, MessageView, Mismatch, Scan, exact_match};
use crate::finding::Finding;
use crate::rules;
use crate::rules::RuleId;

/// The echo inspector.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoInspector;

impl Codec for EchoInspector {
    fn frame_resuming(&self, _dir: Dir, _conn: &str, buf: &[u8], _eof: bool, _scan: &mut Scan) -> Frame {
        // Echo has no messages of its own; a whole buffer is one.
        Frame::Complete(buf.len())
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

impl Hooks for EchoInspector {
    fn early_close_rule(&self, dir: Dir, _conn: &str) -> Option<RuleId> {
        // The server closed while the client still expected its echo (RFC 862: the server
        // echoes until the client closes).
        (dir == Dir::ToClient).then_some(rules::ECHO_3)
    }

    fn closed_while_sending(&self, dir: Dir, _conn: &str) -> Option<RuleId> {
        // The server closed while the client was still sending to it: it closed first.
        (dir == Dir::ToServer).then_some(rules::ECHO_3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_echo_must_match_byte_for_byte() {
        let view = MessageView::default();
        assert!(
            EchoInspector
                .literal_matches(Dir::ToClient, b"hi", b"hi", &view)
                .is_ok()
        );
        let err = EchoInspector
            .literal_matches(Dir::ToClient, b"hello", b"help!", &view)
            .unwrap_err();
        assert_eq!(err.message, "the bytes differ from byte 3 on");
        let err = EchoInspector
            .literal_matches(Dir::ToClient, b"hello", b"he", &view)
            .unwrap_err();
        assert_eq!(err.message, "2 of 5 expected bytes arrived");
    }
}
