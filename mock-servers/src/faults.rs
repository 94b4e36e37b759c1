//! Fault knobs shared by every mock server: how replies are written.
//!
//! A correct client does not care whether a reply arrives in one write or one byte per
//! write, at once or after a pause. Fragile clients do, and these knobs expose them.

use std::num::NonZeroUsize;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How a server writes what it sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockFaults {
    /// Write every reply in pieces of at most this many bytes (`1` = a byte per write).
    pub split_writes: Option<NonZeroUsize>,
    /// Pause between two pieces of a split write.
    pub write_delay: Duration,
    /// Pause before each reply.
    pub reply_delay: Duration,
}

impl MockFaults {
    /// True when the knobs change nothing.
    pub fn is_plain(&self) -> bool {
        *self == MockFaults::default()
    }
}

/// Writes `bytes` to `w` as the fault knobs say, and flushes.
pub async fn write_shaped<W>(w: &mut W, bytes: &[u8], faults: &MockFaults) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    if !faults.reply_delay.is_zero() {
        tokio::time::sleep(faults.reply_delay).await;
    }
    match faults.split_writes {
        None => w.write_all(bytes).await?,
        Some(size) => {
            for (i, piece) in bytes.chunks(size.get()).enumerate() {
                if i > 0 && !faults.write_delay.is_zero() {
                    tokio::time::sleep(faults.write_delay).await;
                }
                w.write_all(piece).await?;
                w.flush().await?;
            }
        }
    }
    w.flush().await
}
