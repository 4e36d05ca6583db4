//! The progress bar over a job's counters, for `ccbulk run` (the local store) and `ccbulk submit` (the API).

use ccbulk_shared::job::Counts;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// Hidden when stderr is not a terminal or `quiet`.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Self { bar }
    }

    pub fn show(&self, counts: &Counts) {
        self.bar.set_length(counts.total() - counts.invalid);
        self.bar.set_position(counts.succeeded + counts.failed);
        self.bar.set_message(format!(
            "{} succeeded, {} failed, {} invalid",
            counts.succeeded, counts.failed, counts.invalid
        ));
    }

    pub fn say(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
        self.bar.tick();
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
