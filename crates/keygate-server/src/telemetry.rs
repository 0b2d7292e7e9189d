//! Logs through `tracing`: human-readable or JSON lines, filtered by `RUST_LOG`
//! (default `info`), on stderr.
//!
//! Access-log lines (target `keygate::access`, one per gateway call) do not write to
//! stderr on the request path: they are appended to a buffer in memory that a background
//! thread writes out every [`ACCESS_FLUSH_INTERVAL`], and at shutdown ([`flush`]). A
//! buffer that reaches [`ACCESS_BUFFER_LIMIT`] before it is written (stderr stuck or far
//! slower than the traffic) drops further lines, and says how many it dropped. Every other
//! line is written at once.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How often buffered access-log lines are written out.
pub const ACCESS_FLUSH_INTERVAL: Duration = Duration::from_millis(20);
/// The most access-log bytes held before lines are dropped.
pub const ACCESS_BUFFER_LIMIT: usize = 8 << 20;
/// The tracing target of access-log lines (keygate-gateway's).
const ACCESS_TARGET: &str = keygate_gateway::ACCESS_LOG_TARGET;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber; a second call is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Writers);
    let _ = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Writes the access-log lines buffered so far to stderr.
pub fn flush() {
    if let Some(buffer) = ACCESS.get() {
        buffer.write_out(&mut std::io::stderr().lock());
    }
}

/// The access log's buffer, and the lines it had to drop since it last said so.
struct AccessBuffer {
    lines: Mutex<Vec<u8>>,
    dropped: AtomicU64,
}

static ACCESS: OnceLock<AccessBuffer> = OnceLock::new();

impl AccessBuffer {
    /// The buffer, its writer thread started on first use.
    fn get() -> &'static AccessBuffer {
        ACCESS.get_or_init(|| {
            let spawned = std::thread::Builder::new()
                .name("keygate-access-log".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(ACCESS_FLUSH_INTERVAL);
                        flush();
                    }
                });
            if let Err(error) = spawned {
                eprintln!("access log: no writer thread ({error}); lines are written at shutdown");
            }
            AccessBuffer {
                lines: Mutex::new(Vec::with_capacity(64 << 10)),
                dropped: AtomicU64::new(0),
            }
        })
    }

    /// Appends one line, or drops it when the buffer is full.
    fn append(&self, line: &[u8]) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() + line.len() > ACCESS_BUFFER_LIMIT {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        lines.extend_from_slice(line);
    }

    /// Writes what is buffered (taking it out under the lock, writing outside it).
    fn write_out(&self, out: &mut impl Write) {
        let pending = {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.is_empty() {
                None
            } else {
                Some(std::mem::replace(&mut *lines, Vec::with_capacity(64 << 10)))
            }
        };
        if let Some(pending) = pending {
            let _ = out.write_all(&pending);
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "WARN access log: {dropped} lines dropped (stderr slower than the traffic)"
            );
        }
        let _ = out.flush();
    }
}

/// The subscriber's writers: the access log's buffer for its lines, stderr for the rest.
#[derive(Debug, Clone, Copy)]
struct Writers;

/// One log line on its way out.
enum LineWriter {
    /// To the access log's buffer (the subscriber writes each line in one call).
    Access,
    Stderr(std::io::Stderr),
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Access => {
                AccessBuffer::get().append(bytes);
                Ok(bytes.len())
            }
            Self::Stderr(stderr) => stderr.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Access => Ok(()),
            Self::Stderr(stderr) => stderr.flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Writers {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter::Stderr(std::io::stderr())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        if meta.target() == ACCESS_TARGET {
            LineWriter::Access
        } else {
            LineWriter::Stderr(std::io::stderr())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_lines_are_buffered_until_written_out() {
        let buffer = AccessBuffer {
            lines: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        };
        buffer.append(b"one\n");
        buffer.append(b"two\n");
        let mut out = Vec::new();
        buffer.write_out(&mut out);
        assert_eq!(out, b"one\ntwo\n");
        let mut again = Vec::new();
        buffer.write_out(&mut again);
        assert!(again.is_empty(), "written once");
    }

    #[test]
    fn a_full_buffer_drops_lines_and_says_so() {
        let buffer = AccessBuffer {
            lines: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        };
        let line = vec![b'x'; ACCESS_BUFFER_LIMIT - 1];
        buffer.append(&line);
        buffer.append(b"too much\n");
        let mut out = Vec::new();
        buffer.write_out(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("too much"));
        assert!(
            text.ends_with("WARN access log: 1 lines dropped (stderr slower than the traffic)\n")
        );
    }
}
