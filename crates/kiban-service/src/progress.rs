//! Progress bars (the CLI's; a server runs with progress off) for long steps, drawn on stderr only when asked for and when stderr is a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `what`; hidden when progress is off.
pub fn bar(show: bool, what: &str) -> ProgressBar {
    let bar = if show { ProgressBar::new(0) } else { ProgressBar::hidden() };
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} {elapsed}")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

/// Updates `bar` from a (done, total) callback.
pub fn update(bar: &ProgressBar, done: usize, total: usize) {
    bar.set_length(total as u64);
    bar.set_position(done as u64);
}

/// A counter for work of unknown length (rows read); hidden when progress is off.
pub fn spinner(show: bool, what: &str) -> ProgressBar {
    let bar = if show { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    let style = ProgressStyle::with_template("{prefix:>12} {spinner} {pos} rows {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}
