//! A spinner on the terminal while a school's MIS is read; nothing when not at a terminal,
//! where the structured log lines say the same.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The display of one read in progress.
pub struct Reading {
    bar: Option<ProgressBar>,
}

impl Reading {
    /// Starts showing a read of `school`'s MIS, when stderr is a terminal.
    pub fn start(school: &str) -> Reading {
        if !std::io::stderr().is_terminal() {
            return Reading { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(format!("reading the MIS of {school}"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Reading { bar: Some(bar) }
    }

    /// Ends the display with the number of records read, or a failure mark.
    pub fn finish(self, records: Option<usize>) {
        let Some(bar) = self.bar else { return };
        match records {
            Some(records) => bar.finish_with_message(format!("{records} records read")),
            None => bar.abandon_with_message("read failed"),
        }
    }
}
