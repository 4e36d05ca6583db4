//! What the functions log during a test, at debug level, kept to be searched (for passwords, say). The sandboxes'
//! own logs are left out: they play the services, which see passwords by design.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

#[derive(Clone, Default)]
pub struct LogCapture {
    text: Arc<Mutex<Vec<u8>>>,
}

impl Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Captures this thread's logs (a current-thread runtime's tasks included) until the guard drops.
    pub fn start(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(LevelFilter::DEBUG)
            .with_filter(filter_fn(|meta| !meta.target().starts_with("ccbulk_sandbox")));
        tracing::subscriber::set_default(Registry::default().with(layer))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }
}
