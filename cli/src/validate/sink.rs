//! A writer that remembers its first error instead of failing every call after it.

use std::io::{self, Write};

pub(crate) struct Sink<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> Sink<W> {
    pub(crate) fn new(out: W) -> Self {
        Self { out, error: None }
    }

    /// Runs `write` unless an earlier write failed.
    pub(crate) fn write(&mut self, write: impl FnOnce(&mut W) -> io::Result<()>) {
        if self.error.is_none()
            && let Err(err) = write(&mut self.out)
        {
            self.error = Some(err);
        }
    }

    pub(crate) fn flush(&mut self) {
        self.write(|out| out.flush());
    }

    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }
}
