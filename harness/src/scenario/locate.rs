//! Source locations for checks made after parsing.
//!
//! yaml_serde attaches `line:col` to errors raised *while* a node is deserialized, but it
//! has no spans for values. Checks that need the whole document (an unknown variable, a
//! connection used before it is opened, an include that fails) therefore find their
//! location afterwards: every located node takes an ordinal from a per-kind counter while
//! it is deserialized, and to locate node *n* the document is parsed again with a target;
//! the node with that ordinal raises a sentinel error, which yaml_serde marks with the
//! node's own position. Parsing is deterministic, so the ordinals of both passes agree.
//! Only error paths and step origins pay for the second parse.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The kinds of node that carry an ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A step of a `steps:` list.
    Step,
    /// A string with `{{variables}}`.
    Template,
}

const KINDS: usize = 2;

/// The message of the error raised at the located node.
pub(crate) const SENTINEL: &str = "\u{0}parley-locate";

#[derive(Debug)]
struct Context {
    dir: PathBuf,
    counters: [usize; KINDS],
    target: Option<(Kind, usize)>,
}

thread_local! {
    static CONTEXT: RefCell<Vec<Context>> = const { RefCell::new(Vec::new()) };
}

/// Runs `parse` with fresh counters; `dir` is the directory relative paths resolve against.
/// With a `target`, the node of that kind and ordinal fails with [`SENTINEL`].
pub(crate) fn with_context<R>(dir: &Path, target: Option<(Kind, usize)>, parse: impl FnOnce() -> R) -> R {
    CONTEXT.with(|c| {
        c.borrow_mut().push(Context {
            dir: dir.to_path_buf(),
            counters: [0; KINDS],
            target,
        })
    });
    let result = parse();
    CONTEXT.with(|c| c.borrow_mut().pop());
    result
}

/// Takes the next ordinal of `kind`. `Err(())` means "this is the node being located":
/// the caller returns an error with [`SENTINEL`] as its message.
pub(crate) fn next(kind: Kind) -> Result<usize, ()> {
    CONTEXT.with(|c| {
        let mut stack = c.borrow_mut();
        let Some(ctx) = stack.last_mut() else {
            return Ok(0);
        };
        let slot = &mut ctx.counters[kind as usize];
        let ordinal = *slot;
        *slot += 1;
        if ctx.target == Some((kind, ordinal)) {
            Err(())
        } else {
            Ok(ordinal)
        }
    })
}

/// The directory of the file being parsed (for `file:` payloads).
pub(crate) fn base_dir() -> PathBuf {
    CONTEXT.with(|c| c.borrow().last().map(|ctx| ctx.dir.clone()).unwrap_or_default())
}

/// Takes an ordinal for a node while deserializing, raising the sentinel when located.
pub(crate) fn ordinal<E: serde::de::Error>(kind: Kind) -> Result<usize, E> {
    next(kind).map_err(|()| E::custom(SENTINEL))
}
