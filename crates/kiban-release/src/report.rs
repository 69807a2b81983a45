//! The release report: what was done, in numbers and plots, for the reviewer and the recipient.
//!
//! HTML (self-contained, inline SVG plots, no script, no external resource) and JSON with the same
//! content. Only counts and choices: no record, no key, no offset, no mapping.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use kiban_engine::{AnonymizedDataset, Mode, ProcessingSummary};
use serde::Serialize;

use crate::measure::{MeasuredRisk, ModelRisk, measure_release};
use crate::table_report::{JsonRisk, risk_section};
use crate::{AtRest, Manifest, ReleaseError, io_error};

/// Facts about the release that the engine does not know.
#[derive(Clone, Debug, Serialize)]
pub struct ReportContext {
    pub release_id: String,
    pub recipient_name: String,
    pub provided_on: String,
    /// Extra facts shown at the top, e.g. ("providers", "3"), ("persons linked", "9,874").
    pub facts: Vec<(String, String)>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    context: &'a ReportContext,
    mode: &'a str,
    n_persons_in: usize,
    n_persons_in_cohort: usize,
    n_persons_released: usize,
    k_anonymity: Option<JsonKAnonymity<'a>>,
    peculiar: Vec<JsonPeculiar<'a>>,
    max_shift_days: Option<u32>,
    columns: Vec<JsonColumn<'a>>,
    removed: &'a [String],
    tables: Vec<(String, usize)>,
    /// Every attacker model, measured on the released files.
    risk: &'a MeasuredRisk,
    /// The worst declared model.
    headline: Option<&'a ModelRisk>,
    utility: Vec<JsonUtility<'a>>,
}

#[derive(Serialize)]
struct JsonUtility<'a> {
    table: &'a str,
    events: usize,
    events_released: usize,
    code_column: Option<&'a str>,
    codes_unchanged: usize,
    codes_generalized: usize,
    codes_suppressed: usize,
    date_granularity: &'a str,
}

#[derive(Serialize)]
struct JsonKAnonymity<'a> {
    k: usize,
    models: &'a [String],
    suppression_limit: f64,
    n_persons_suppressed: usize,
    n_classes: usize,
    smallest_class: Option<usize>,
    loss: f64,
    n_transformations_checked: usize,
    quasi_identifiers: Vec<JsonQi<'a>>,
    class_size_histogram: Vec<(String, usize)>,
    risk_before: JsonRisk,
    risk_after: JsonRisk,
}

#[derive(Serialize)]
struct JsonQi<'a> {
    name: &'a str,
    level: usize,
    level_name: &'a str,
    loss: f64,
}

#[derive(Serialize)]
struct JsonPeculiar<'a> {
    column: &'a str,
    rule: &'a str,
    values: &'a [(String, usize)],
    n_rows: usize,
    loss: Option<f64>,
}

#[derive(Serialize)]
struct JsonColumn<'a> {
    table: &'a str,
    column: &'a str,
    released_as: &'a str,
    class: &'a str,
    action: &'a str,
}

/// Writes `report.html` and `report.json` into `dir`, the release's folder, whose data files are stored
/// as `at_rest` says: the risk of every attacker model is measured by reading the released CSV files
/// back ([`measure_release`]). Returns where the HTML is and what was measured.
///
/// # Errors
/// [`ReleaseError::Io`] when a file cannot be read or written; [`ReleaseError::Measure`] when a released
/// table lacks a column the summary names.
pub fn write_report(
    dataset: &AnonymizedDataset<'_>,
    manifest: &Manifest,
    context: &ReportContext,
    dir: &Path,
    at_rest: AtRest<'_>,
) -> Result<Report, ReleaseError> {
    let summary = dataset.summary();
    let risk = measure_release(dir, at_rest, summary)?;
    let tables: Vec<(String, usize)> = manifest
        .files
        .iter()
        .filter(|file| file.format == "parquet")
        .map(|file| (file.table.clone(), file.rows))
        .collect();
    let json = JsonReport {
        context,
        mode: summary.mode.name(),
        n_persons_in: summary.n_persons_in,
        n_persons_in_cohort: summary.n_persons_in_cohort,
        n_persons_released: summary.n_persons_released,
        k_anonymity: summary.kanon.as_ref().map(|kanon| JsonKAnonymity {
            k: kanon.k,
            models: &kanon.models,
            suppression_limit: kanon.suppression_limit,
            n_persons_suppressed: kanon.n_persons_suppressed,
            n_classes: kanon.class_sizes.len(),
            smallest_class: kanon.class_sizes.first().copied(),
            loss: kanon.loss,
            n_transformations_checked: kanon.n_transformations_checked,
            quasi_identifiers: kanon
                .quasi_identifiers
                .iter()
                .map(|qi| JsonQi {
                    name: &qi.name,
                    level: qi.level,
                    level_name: qi.level_names.get(qi.level).map_or("", String::as_str),
                    loss: qi.loss,
                })
                .collect(),
            class_size_histogram: class_size_histogram(&kanon.class_sizes),
            risk_before: (&kanon.risk_before).into(),
            risk_after: (&kanon.risk_after).into(),
        }),
        peculiar: summary
            .peculiar
            .iter()
            .map(|decision| JsonPeculiar {
                column: &decision.column,
                rule: &decision.rule,
                values: &decision.values,
                n_rows: decision.n_rows,
                loss: decision.loss,
            })
            .collect(),
        max_shift_days: summary.max_shift_days,
        columns: summary
            .columns
            .iter()
            .map(|column| JsonColumn {
                table: &column.table,
                column: &column.column,
                released_as: &column.released_as,
                class: &column.class,
                action: &column.action,
            })
            .collect(),
        removed: &summary.removed,
        tables: tables.clone(),
        risk: &risk,
        headline: risk.headline(),
        utility: summary
            .utility
            .iter()
            .map(|table| JsonUtility {
                table: &table.table,
                events: table.events,
                events_released: table.events_released,
                code_column: table.code_column.as_deref(),
                codes_unchanged: table.codes_unchanged,
                codes_generalized: table.codes_generalized,
                codes_suppressed: table.codes_suppressed,
                date_granularity: &table.date_granularity,
            })
            .collect(),
    };
    let json_path = dir.join("report.json");
    let bytes =
        serde_json::to_vec_pretty(&json).map_err(|source| ReleaseError::Json { what: "report", source })?;
    fs::write(&json_path, bytes).map_err(io_error(&json_path))?;

    let html = render_html(summary, manifest, context, &tables, &risk);
    let html_path = dir.join("report.html");
    fs::write(&html_path, html).map_err(io_error(&html_path))?;
    Ok(Report { html: html_path, risk })
}

/// A written report: where its HTML is, and the risk measured on the released files.
#[derive(Clone, Debug)]
pub struct Report {
    pub html: std::path::PathBuf,
    pub risk: MeasuredRisk,
}

/// Buckets of class sizes: k..k+4 one by one, then wider bins.
pub(crate) fn class_size_histogram(sizes: &[usize]) -> Vec<(String, usize)> {
    banded(sizes, &[(1, 4), (5, 5), (6, 9), (10, 19), (20, 49), (50, 99), (100, 499), (500, usize::MAX)])
}

/// How many of `sizes` fall in each band `(low, high)` (inclusive), labelled `5`, `6-9` or `500+`.
pub(crate) fn banded(sizes: &[usize], bands: &[(usize, usize)]) -> Vec<(String, usize)> {
    bands
        .iter()
        .map(|(low, high)| {
            let label = match (*low, *high) {
                (low, high) if low == high => low.to_string(),
                (low, usize::MAX) => format!("{low}+"),
                (low, high) => format!("{low}-{high}"),
            };
            (label, sizes.iter().filter(|size| (*low..=*high).contains(*size)).count())
        })
        .collect()
}

/// The start of a self-contained report page, up to and including `<body>`: the shared style, no script,
/// no external resource. `title` must already be escaped.
pub(crate) fn page_head(lang: &str, title: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#eef}}figure{{margin:1em 0}}\
figcaption{{font-weight:bold;margin-bottom:4px}}.ok{{color:#060}}</style></head><body>"
    )
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
pub(crate) fn bar_chart(title: &str, bars: &[(String, f64)], value_label: impl Fn(f64) -> String) -> String {
    let max = bars.iter().map(|(_, value)| *value).fold(0.0_f64, f64::max).max(f64::MIN_POSITIVE);
    let row_height = 22;
    let height = bars.len() * row_height + 30;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"560\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(title),
        escape(title)
    );
    for (idx, (label, value)) in bars.iter().enumerate() {
        let y = idx * row_height + 10;
        let width = (value / max * 340.0).round();
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"130\" y=\"{y}\" width=\"{width}\" height=\"16\" fill=\"#3b6ea8\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 12,
            escape(label),
            135.0 + width,
            y + 12,
            escape(&value_label(*value))
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn render_html(
    summary: &ProcessingSummary,
    manifest: &Manifest,
    context: &ReportContext,
    tables: &[(String, usize)],
    risk: &MeasuredRisk,
) -> String {
    let mut html = String::new();
    let id = escape(&context.release_id);
    html.push_str(&page_head("ja", &format!("kiban release {id}")));
    let _ = write!(html, "<h1>提供報告書 / Release report {id}</h1>");
    let category = match summary.mode {
        Mode::Anonymized => "匿名加工医療情報 (anonymized, Rule 18 ①–⑤)",
        Mode::AnonymizedLinkable => {
            "匿名加工医療情報 with 提供用ID (anonymized, linkable to public databases, Rule 28)"
        }
        Mode::Pseudonymized => {
            "仮名加工医療情報 (pseudonymized, Rule 18 ①–③; clinical detail and rare values kept)"
        }
    };
    let _ = write!(
        html,
        "<p>{category} for <b>{}</b>, provided on {}. \
This report holds counts and choices only: no record, no key, no date offset, no mapping.</p>",
        escape(&context.recipient_name),
        escape(&context.provided_on)
    );
    html.push_str("<h2>Summary</h2><table>");
    let mut rows: Vec<(String, String)> = context.facts.clone();
    rows.extend([
        ("mode".to_owned(), summary.mode.name().to_owned()),
        ("persons processed".to_owned(), summary.n_persons_in.to_string()),
        ("persons in the cohort".to_owned(), summary.n_persons_in_cohort.to_string()),
        ("persons released".to_owned(), summary.n_persons_released.to_string()),
    ]);
    if let Some(kanon) = &summary.kanon {
        rows.extend([
            ("persons suppressed (k-anonymity)".to_owned(), kanon.n_persons_suppressed.to_string()),
            (
                "privacy models".to_owned(),
                format!(
                    "{}, suppression limit {:.1} %",
                    kanon.models.join(", "),
                    kanon.suppression_limit * 100.0
                ),
            ),
            ("equivalence classes".to_owned(), kanon.class_sizes.len().to_string()),
            (
                "smallest class".to_owned(),
                kanon.class_sizes.first().map_or_else(|| "-".to_owned(), ToString::to_string),
            ),
            ("information loss (ARX Loss, 0-1)".to_owned(), format!("{:.4}", kanon.loss)),
            ("transformations checked".to_owned(), kanon.n_transformations_checked.to_string()),
        ]);
    }
    rows.push((
        "date shift".to_owned(),
        summary.max_shift_days.map_or_else(
            || "none".to_owned(),
            |days| format!("one secret offset per person, up to ±{days} days"),
        ),
    ));
    for (key, value) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(&key), escape(&value));
    }
    html.push_str("</table>");
    html.push_str(&headline(risk, summary.mode));
    html.push_str(&models_section(risk));
    html.push_str(&utility_section(summary));

    if let Some(kanon) = &summary.kanon {
        html.push_str("<h2>Person-level quasi-identifiers (Rule 18 ⑤)</h2><table><tr><th>column</th><th>level chosen</th><th>meaning</th><th>loss</th></tr>");
        for qi in &kanon.quasi_identifiers {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{} of {}</td><td>{}</td><td>{:.4}</td></tr>",
                escape(&qi.name),
                qi.level,
                qi.max_level,
                escape(qi.level_names.get(qi.level).map_or("", String::as_str)),
                qi.loss
            );
        }
        html.push_str("</table>");
        let loss_bars: Vec<(String, f64)> =
            kanon.quasi_identifiers.iter().map(|qi| (qi.name.clone(), qi.loss)).collect();
        html.push_str(&bar_chart("Information loss per quasi-identifier", &loss_bars, |v| format!("{v:.3}")));
        let class_bars: Vec<(String, f64)> = class_size_histogram(&kanon.class_sizes)
            .into_iter()
            .map(|(label, count)| (format!("size {label}"), count as f64))
            .collect();
        html.push_str(&bar_chart("Equivalence classes by size (persons per class)", &class_bars, |v| {
            format!("{v}")
        }));
        let person_bars = vec![
            ("released".to_owned(), summary.n_persons_released as f64),
            ("suppressed".to_owned(), kanon.n_persons_suppressed as f64),
            ("outside the cohort".to_owned(), (summary.n_persons_in - summary.n_persons_in_cohort) as f64),
        ];
        html.push_str(&bar_chart("Persons", &person_bars, |v| format!("{v}")));
        html.push_str(
            "<h3>The demographics as the search saw them</h3><p>Before and after generalization, from the \
engine's classes (the measured risk above is read from the released files).</p>",
        );
        html.push_str(&risk_section(&kanon.risk_before, &kanon.risk_after));
    }

    html.push_str("<h2>Peculiar values and code combinations (Rule 18 ④ ⑤)</h2>");
    if summary.peculiar.is_empty() {
        html.push_str(if summary.mode.is_anonymized() {
            "<p>No peculiar value was found.</p>"
        } else {
            "<p>Not applied: a pseudonymized release keeps clinical detail and rare values.</p>"
        });
    } else {
        html.push_str(
            "<table><tr><th>column</th><th>rule</th><th>values</th><th>rows changed</th><th>loss</th></tr>",
        );
        for decision in &summary.peculiar {
            let values: Vec<String> =
                decision.values.iter().map(|(what, count)| format!("{count} → {what}")).collect();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&decision.column),
                escape(&decision.rule),
                escape(&values.join(", ")),
                decision.n_rows,
                decision.loss.map_or_else(|| "-".to_owned(), |loss| format!("{loss:.4}"))
            );
        }
        html.push_str("</table>");
        let bars: Vec<(String, f64)> = summary
            .peculiar
            .iter()
            .map(|decision| (decision.column.clone(), decision.n_rows as f64))
            .collect();
        html.push_str(&bar_chart(
            "Rows changed per column (peculiar values, code combinations)",
            &bars,
            |v| format!("{v}"),
        ));
    }

    html.push_str("<h2>What was done to each column</h2><table><tr><th>column</th><th>released as</th><th>class</th><th>action</th></tr>");
    for column in &summary.columns {
        let _ = write!(
            html,
            "<tr><td>{}.{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&column.table),
            escape(&column.column),
            escape(&column.released_as),
            escape(&column.class),
            escape(&column.action)
        );
    }
    html.push_str("</table><p>Not released (removed, or not asked for by the policy): ");
    html.push_str(&escape(&summary.removed.join(", ")));
    html.push_str("</p>");

    html.push_str("<h2>Files</h2><table><tr><th>file</th><th>rows</th><th>bytes</th><th>SHA-256</th></tr>");
    for file in &manifest.files {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&file.path),
            file.rows,
            file.bytes,
            escape(&file.sha256)
        );
    }
    html.push_str("</table>");
    let row_bars: Vec<(String, f64)> =
        tables.iter().map(|(name, rows)| (name.clone(), *rows as f64)).collect();
    html.push_str(&bar_chart("Rows per table", &row_bars, |v| format!("{v}")));
    html.push_str("</body></html>\n");
    html
}

/// The headline: the worst declared attacker model, measured on the released files.
fn headline(risk: &MeasuredRisk, mode: Mode) -> String {
    let Some(worst) = risk.headline() else { return String::new() };
    let verdict = if risk.models.iter().filter(|model| !model.residual).all(ModelRisk::holds) {
        "<span class=\"ok\">every declared model holds on the released files</span>".to_owned()
    } else if mode.is_anonymized() {
        "<b>a declared model does not hold on the released files</b>".to_owned()
    } else {
        "not enforced: a pseudonymized release keeps clinical detail (the law does not ask for these models)"
            .to_owned()
    };
    format!(
        "<h2>Headline risk</h2><p style=\"font-size:1.2em\">Highest re-identification risk (prosecutor, worst over the \
declared attacker models, measured on the released files): <b>{:.4}</b> (1 in {}), from the model <i>{}</i>; \
{} of {} persons in classes below its k = {}; {}.</p>",
        worst.highest,
        worst.smallest_class.map_or_else(|| "-".to_owned(), |size| size.to_string()),
        escape(&worst.name),
        worst.n_below_k,
        worst.n_persons,
        worst.k,
        verdict
    )
}

fn model_rows(models: &[&ModelRisk]) -> String {
    let mut html = String::from(
        "<table><tr><th>attacker knows</th><th>k</th><th>persons</th><th>unique</th><th>in classes &lt; k</th>\
<th>smallest class</th><th>highest risk</th><th>average risk</th><th>holds</th><th>how enforced</th></tr>",
    );
    for model in models {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
            escape(&model.name),
            model.k,
            model.n_persons,
            model.n_unique,
            model.n_below_k,
            model.smallest_class.map_or_else(|| "-".to_owned(), |size| size.to_string()),
            model.highest,
            model.average,
            if model.holds() { "<span class=\"ok\">yes</span>" } else { "<b>no</b>" },
            escape(model.enforcement.as_deref().unwrap_or("not enforced"))
        );
    }
    html.push_str("</table>");
    html
}

/// Every attacker model measured on the released files, declared then residual, with plots.
fn models_section(risk: &MeasuredRisk) -> String {
    let declared: Vec<&ModelRisk> = risk.models.iter().filter(|model| !model.residual).collect();
    let residual: Vec<&ModelRisk> = risk.models.iter().filter(|model| model.residual).collect();
    let mut html = String::from(
        "<h2>Attacker models, measured on the released files (Rule 18 ⑤)</h2><p>Each released person's class is \
the persons an attacker with that knowledge cannot tell them from, counted by reading the released CSV files back. \
Prosecutor risk is 1 / class.</p>",
    );
    html.push_str(&model_rows(&declared));
    let bars: Vec<(String, f64)> =
        risk.models.iter().map(|model| (short(&model.name), model.highest)).collect();
    html.push_str(&bar_chart(
        "Highest prosecutor risk per attacker model (declared, then residual)",
        &bars,
        |v| format!("{v:.3}"),
    ));
    if !residual.is_empty() {
        html.push_str(
            "<h2>Residual risk: stronger attackers than the policy declares</h2><p>What the policy does not cover: \
one more code, full codes, exact event dates, the whole sequence of encounter dates, the number of encounters. \
Measured against the demographics' k.</p>",
        );
        html.push_str(&model_rows(&residual));
    }
    let partitions: Vec<&ModelRisk> = risk.models.iter().filter(|model| model.population.is_some()).collect();
    if !partitions.is_empty() {
        let _ = write!(
            html,
            "<h2>Journalist risk with a population model</h2><p>Estimated share of the population of {} persons \
that is unique on each model (ARX's estimators; Dankar et al.'s rule picks one). Under uniform sampling it is also \
the share of released persons an attacker matching against the population identifies for certain.</p><table><tr>\
<th>attacker knows</th><th>sampling fraction</th><th>Pitman</th><th>Zayatz</th><th>SNB</th><th>chosen</th><th>estimate</th></tr>",
            risk.population
        );
        let cell = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.6}"));
        for model in partitions {
            let Some(population) = &model.population else { continue };
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.6}</td></tr>",
                escape(&model.name),
                population.sampling_fraction,
                cell(population.pitman),
                cell(population.zayatz),
                cell(population.snb),
                escape(&population.model),
                population.share
            );
        }
        html.push_str("</table>");
    }
    html
}

/// A model's name cut for a plot label.
fn short(name: &str) -> String {
    let name = name.split(": k =").next().unwrap_or(name);
    if name.chars().count() > 18 {
        format!("{}…", name.chars().take(17).collect::<String>())
    } else {
        name.to_owned()
    }
}

/// How much of each table and code column is released as it came.
fn utility_section(summary: &ProcessingSummary) -> String {
    if summary.utility.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2>Utility: what is released as it came</h2><table><tr><th>table</th><th>events</th><th>released</th>\
<th>code column</th><th>codes at full detail</th><th>generalized</th><th>withheld</th><th>dates to the</th></tr>",
    );
    let share = |part: usize, whole: usize| if whole == 0 { 0.0 } else { part as f64 / whole as f64 * 100.0 };
    let mut bars = Vec::new();
    for table in &summary.utility {
        let coded = table.codes_unchanged + table.codes_generalized + table.codes_suppressed;
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{} ({:.1} %)</td><td>{}</td><td>{:.1} %</td><td>{:.1} %</td><td>{:.1} %</td><td>{}</td></tr>",
            escape(&table.table),
            table.events,
            table.events_released,
            share(table.events_released, table.events),
            escape(table.code_column.as_deref().unwrap_or("-")),
            share(table.codes_unchanged, coded),
            share(table.codes_generalized, coded),
            share(table.codes_suppressed, coded),
            escape(&table.date_granularity)
        );
        if table.code_column.is_some() {
            bars.push((table.table.clone(), share(table.codes_unchanged, coded)));
        }
    }
    html.push_str("</table>");
    html.push_str(&bar_chart(
        "Codes released at full detail (% of the released events with a code)",
        &bars,
        |v| format!("{v:.1} %"),
    ));
    html
}
