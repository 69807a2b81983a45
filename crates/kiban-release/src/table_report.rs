//! The report of `kiban anonymize` on one flat table: settings, the transformation chosen, the utility
//! kept and the re-identification risk before and after, as HTML (inline SVG plots, no script) and JSON.
//! Only counts, names of columns and choices: never a cell value.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use kiban_engine::risk::{AttackerRisk, RiskProfile};
use serde::Serialize;

use crate::report::{bar_chart, class_size_histogram, escape, page_head};
use crate::{ReleaseError, io_error};

/// One input column and what was done to it.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    pub name: String,
    /// identifying (removed), quasi, sensitive or insensitive.
    pub role: String,
    /// The generalization level chosen, for a quasi-identifier.
    pub level: Option<usize>,
    pub top_level: Option<usize>,
    /// ARX's Loss of this column (0-1), for a quasi-identifier.
    pub loss: Option<f64>,
}

/// A privacy model as requested.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub text: String,
}

/// One utility metric's value for the transformation chosen.
#[derive(Debug, Clone, Serialize)]
pub struct UtilityReport {
    pub metric: String,
    pub value: f64,
    /// Per quasi-identifier, when the metric decomposes; empty otherwise.
    pub per_column: Vec<(String, f64)>,
}

/// Everything the anonymization report shows.
#[derive(Debug, Clone)]
pub struct TableReport {
    pub input: String,
    pub n_rows: usize,
    pub columns: Vec<ColumnReport>,
    pub models: Vec<ModelReport>,
    pub suppression_limit: f64,
    /// The metric minimized, and its value for the transformation chosen.
    pub metric: String,
    pub metric_value: f64,
    pub discernibility: f64,
    pub n_suppressed: usize,
    /// Sizes of the released equivalence classes.
    pub class_sizes: Vec<usize>,
    pub n_transformations_checked: usize,
    /// The search strategy, and whether its answer is proven optimal.
    pub search: String,
    pub optimal: bool,
    /// Every metric, measured on the transformation chosen.
    pub utility: Vec<UtilityReport>,
    pub risk_before: RiskProfile,
    pub risk_after: RiskProfile,
    pub read_seconds: f64,
    pub search_seconds: f64,
    pub outputs: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct JsonRisk {
    n_rows: usize,
    n_classes: usize,
    threshold: f64,
    prosecutor: JsonAttacker,
    journalist: JsonAttacker,
    marketer: f64,
    sample_uniques: f64,
    population_uniques: f64,
    rows_by_class_size: Vec<(String, usize)>,
}

#[derive(Serialize)]
struct JsonAttacker {
    highest: f64,
    average: f64,
    share_above_threshold: f64,
}

impl From<&AttackerRisk> for JsonAttacker {
    fn from(risk: &AttackerRisk) -> JsonAttacker {
        JsonAttacker {
            highest: risk.highest,
            average: risk.average,
            share_above_threshold: risk.share_above_threshold,
        }
    }
}

fn band_label(from: usize, to: Option<usize>) -> String {
    match to {
        Some(to) if to == from => from.to_string(),
        Some(to) => format!("{from}-{to}"),
        None => format!("{from}+"),
    }
}

impl From<&RiskProfile> for JsonRisk {
    fn from(risk: &RiskProfile) -> JsonRisk {
        JsonRisk {
            n_rows: risk.n_rows,
            n_classes: risk.n_classes,
            threshold: risk.threshold,
            prosecutor: (&risk.prosecutor).into(),
            journalist: (&risk.journalist).into(),
            marketer: risk.marketer,
            sample_uniques: risk.sample_uniques,
            population_uniques: risk.population_uniques,
            rows_by_class_size: risk
                .class_size_histogram
                .iter()
                .map(|(band, rows)| (band_label(band.from, band.to), *rows))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    input: &'a str,
    n_rows: usize,
    columns: &'a [ColumnReport],
    models: &'a [ModelReport],
    suppression_limit: f64,
    metric: &'a str,
    metric_value: f64,
    discernibility: f64,
    n_suppressed: usize,
    n_classes: usize,
    smallest_class: Option<usize>,
    average_class_size: f64,
    n_transformations_checked: usize,
    search: &'a str,
    optimal: bool,
    utility: &'a [UtilityReport],
    risk_before: JsonRisk,
    risk_after: JsonRisk,
    read_seconds: f64,
    search_seconds: f64,
    outputs: &'a [String],
}

/// Writes `report.json` and `report.html` into `dir`; returns the HTML path.
///
/// # Errors
/// [`ReleaseError::Io`] or [`ReleaseError::Json`] when a file cannot be written.
pub fn write_table_report(report: &TableReport, dir: &Path) -> Result<PathBuf, ReleaseError> {
    let released: usize = report.class_sizes.iter().sum();
    let json = JsonReport {
        input: &report.input,
        n_rows: report.n_rows,
        columns: &report.columns,
        models: &report.models,
        suppression_limit: report.suppression_limit,
        metric: &report.metric,
        metric_value: report.metric_value,
        discernibility: report.discernibility,
        n_suppressed: report.n_suppressed,
        n_classes: report.class_sizes.len(),
        smallest_class: report.class_sizes.iter().min().copied(),
        average_class_size: if report.class_sizes.is_empty() {
            0.0
        } else {
            released as f64 / report.class_sizes.len() as f64
        },
        n_transformations_checked: report.n_transformations_checked,
        search: &report.search,
        optimal: report.optimal,
        utility: &report.utility,
        risk_before: (&report.risk_before).into(),
        risk_after: (&report.risk_after).into(),
        read_seconds: report.read_seconds,
        search_seconds: report.search_seconds,
        outputs: &report.outputs,
    };
    let json_path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&json)
        .map_err(|source| ReleaseError::Json { what: "the anonymization report", source })?;
    fs::write(&json_path, text).map_err(io_error(&json_path))?;
    let html_path = dir.join("report.html");
    fs::write(&html_path, render(report, &json)).map_err(io_error(&html_path))?;
    Ok(html_path)
}

fn percent(value: f64) -> String {
    format!("{:.2} %", value * 100.0)
}

fn render(report: &TableReport, json: &JsonReport<'_>) -> String {
    let mut html = page_head("en", "kiban anonymize report");
    let _ = write!(
        html,
        "<h1>Anonymization report</h1><p>Input <code>{}</code>: {} rows. This report holds counts and choices only, \
never a cell value.</p>",
        escape(&report.input),
        report.n_rows
    );
    html.push_str("<h2>Settings and result</h2><table>");
    let models: Vec<&str> = report.models.iter().map(|model| model.text.as_str()).collect();
    let rows = [
        ("privacy models", models.join(" + ")),
        ("suppression limit", percent(report.suppression_limit)),
        ("metric minimized", format!("{} = {}", report.metric, report.metric_value)),
        ("discernibility", format!("{}", report.discernibility)),
        (
            "rows suppressed",
            format!("{} ({})", report.n_suppressed, percent(ratio(report.n_suppressed, report.n_rows))),
        ),
        ("equivalence classes released", json.n_classes.to_string()),
        ("smallest class", json.smallest_class.map_or_else(|| "-".to_owned(), |size| size.to_string())),
        ("average class size", format!("{:.2}", json.average_class_size)),
        ("transformations checked", report.n_transformations_checked.to_string()),
        (
            "search",
            format!(
                "{} — {}",
                report.search,
                if report.optimal { "optimal" } else { "heuristic: not proven optimal" }
            ),
        ),
        ("time", format!("read {:.3} s, search {:.3} s", report.read_seconds, report.search_seconds)),
    ];
    for (key, value) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(&value));
    }
    html.push_str("</table>");

    html.push_str("<h2>Columns</h2><table><tr><th>column</th><th>role</th><th>level</th><th>loss</th></tr>");
    for column in &report.columns {
        let level = match (column.level, column.top_level) {
            (Some(level), Some(top)) => format!("{level} of {top}"),
            _ => "-".to_owned(),
        };
        let loss = column.loss.map_or_else(|| "-".to_owned(), |loss| format!("{loss:.4}"));
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&column.name),
            escape(&column.role),
            escape(&level),
            escape(&loss)
        );
    }
    html.push_str("</table>");
    let loss_bars: Vec<(String, f64)> =
        report.columns.iter().filter_map(|column| Some((column.name.clone(), column.loss?))).collect();
    html.push_str(&bar_chart("Information loss per quasi-identifier (ARX Loss, 0-1)", &loss_bars, |v| {
        format!("{v:.3}")
    }));

    html.push_str("<h2>Utility</h2><p>Every metric measured on the transformation chosen (lower is better).</p><table><tr><th>metric</th><th>overall</th>");
    for column in report.columns.iter().filter(|column| column.level.is_some()) {
        let _ = write!(html, "<th>{}</th>", escape(&column.name));
    }
    html.push_str("</tr>");
    for metric in &report.utility {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td>", escape(&metric.metric), metric.value);
        for column in report.columns.iter().filter(|column| column.level.is_some()) {
            let value = metric.per_column.iter().find(|(name, _)| *name == column.name);
            let _ = write!(
                html,
                "<td>{}</td>",
                value.map_or_else(|| "-".to_owned(), |(_, value)| format!("{value:.4}"))
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");

    html.push_str(&risk_section(&report.risk_before, &report.risk_after));
    let classes: Vec<(String, f64)> = class_size_histogram(&report.class_sizes)
        .into_iter()
        .map(|(label, count)| (format!("size {label}"), count as f64))
        .collect();
    html.push_str(&bar_chart("Released equivalence classes by size", &classes, |v| format!("{v}")));

    html.push_str("<h2>Files</h2><ul>");
    for output in &report.outputs {
        let _ = write!(html, "<li><code>{}</code></li>", escape(output));
    }
    html.push_str("</ul></body></html>\n");
    html
}

/// The risk table and the class-size plots before and after, shared by both reports.
pub(crate) fn risk_section(before: &RiskProfile, after: &RiskProfile) -> String {
    let mut html = String::new();
    html.push_str("<h2>Re-identification risk</h2><table><tr><th></th><th>before</th><th>after</th></tr>");
    let risk_rows = [
        ("prosecutor: highest", before.prosecutor.highest, after.prosecutor.highest),
        ("prosecutor: average", before.prosecutor.average, after.prosecutor.average),
        (
            "prosecutor: rows above threshold",
            before.prosecutor.share_above_threshold,
            after.prosecutor.share_above_threshold,
        ),
        ("journalist: highest", before.journalist.highest, after.journalist.highest),
        ("journalist: average", before.journalist.average, after.journalist.average),
        ("marketer", before.marketer, after.marketer),
        ("sample uniques", before.sample_uniques, after.sample_uniques),
    ];
    for (name, was, is) in risk_rows {
        let _ = write!(
            html,
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            escape(name),
            percent(was),
            percent(is)
        );
    }
    let _ = write!(
        html,
        "</table><p>Threshold {:.3} (a row is at risk when its class is smaller than {:.0}). The journalist's \
risk equals the prosecutor's here: the table is taken as the whole population.</p>",
        before.threshold,
        (1.0 / before.threshold).ceil()
    );
    let bands = |risk: &RiskProfile| -> Vec<(String, f64)> {
        risk.class_size_histogram
            .iter()
            .map(|(band, rows)| (format!("class size {}", band_label(band.from, band.to)), *rows as f64))
            .collect()
    };
    html.push_str(&bar_chart("Rows by the size of their class, before", &bands(before), |v| format!("{v}")));
    html.push_str(&bar_chart("Rows by the size of their class, after", &bands(after), |v| format!("{v}")));
    html
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}
