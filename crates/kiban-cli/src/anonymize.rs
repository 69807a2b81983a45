//! `kiban anonymize`: one flat table (CSV) in, the same table generalized and suppressed to satisfy the
//! chosen privacy models out, with a report of what was done, the utility kept and the risk left.
//!
//! Every column must have a role: identifying (removed), quasi-identifying (generalized with a
//! hierarchy), sensitive (kept, protected by l-diversity or t-closeness) or insensitive (kept). A column
//! without a role is an error unless `--others` gives one, so a forgotten identifier never passes through.
//! Roles, hierarchies, models and the metric come from flags, a TOML file (`--config`), or both (flags
//! win). Reading dictionary-encodes every kept column, so memory grows with rows × columns × 4 bytes
//! plus the distinct values.

mod spec;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use kiban_columnar::{Column, ColumnData, Table};
use kiban_engine::kanon::{
    AnonymizationConfig, Metric, PrivacyModel, QuasiIdentifier, SearchStrategy, SensitiveAttribute, Solution,
    anonymize_with_strategy, evaluate_with,
};
use kiban_engine::risk::{RiskProfile, class_sizes};
use kiban_release::table_report::{
    ColumnReport, ModelReport, TableReport, UtilityReport, write_table_report,
};
use serde::Deserialize;

use self::spec::{
    HierarchySpec, describe_model, metric_name, parse_l_diversity, parse_metric, parse_strategy,
    parse_t_closeness, strategy_name,
};

/// The role of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Removed from the output (names, IDs).
    Identifying,
    /// Generalized with a hierarchy (age, sex, postal code).
    Quasi,
    /// Kept; what l-diversity and t-closeness protect (diagnosis).
    Sensitive,
    /// Kept as is.
    Insensitive,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Csv,
    Parquet,
}

#[derive(Args, Debug, Default)]
pub struct AnonymizeArgs {
    /// The CSV file to anonymize (or `[input] path` in the config).
    pub input: Option<PathBuf>,
    /// A TOML file with the settings (see docs/anonymize.md); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder for the output table and the report.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Field delimiter of the input (and output); default `,`.
    #[arg(long)]
    pub delimiter: Option<char>,
    /// The input has no header row; columns are then named c1, c2, …
    #[arg(long)]
    pub no_header: bool,
    /// A quasi-identifier and its hierarchy: COLUMN=FILE.csv (ARX format), COLUMN=intervals:MIN:MAX:W1,W2[:TOP],
    /// COLUMN=mask[:CHAR], COLUMN=prefix:L1,L2 or COLUMN=date.
    #[arg(long = "qi", value_name = "COLUMN=HIERARCHY")]
    pub qi: Vec<String>,
    /// A sensitive column, optionally with a hierarchy for hierarchical t-closeness: COLUMN[=HIERARCHY].
    #[arg(long, value_name = "COLUMN[=HIERARCHY]")]
    pub sensitive: Vec<String>,
    /// A column to remove.
    #[arg(long, value_name = "COLUMN")]
    pub identifying: Vec<String>,
    /// A column to keep as is.
    #[arg(long, value_name = "COLUMN")]
    pub insensitive: Vec<String>,
    /// The role of every column not named otherwise (default: such a column is an error).
    #[arg(long, value_enum)]
    pub others: Option<Role>,
    /// k of k-anonymity.
    #[arg(long)]
    pub k: Option<usize>,
    /// l-diversity: [COLUMN:]distinct:L, [COLUMN:]entropy:L or [COLUMN:]recursive:C:L.
    #[arg(long = "l-diversity", value_name = "SPEC")]
    pub l_diversity: Vec<String>,
    /// t-closeness: [COLUMN:]equal:T or [COLUMN:]hierarchical:T.
    #[arg(long = "t-closeness", value_name = "SPEC")]
    pub t_closeness: Vec<String>,
    /// The largest share of rows that may be suppressed (0 to 1); default 0.
    #[arg(long)]
    pub suppression: Option<f64>,
    /// What to minimize: loss (default), entropy, entropy-monotonic, discernibility, discernibility-monotonic,
    /// aecs, precision.
    #[arg(long)]
    pub metric: Option<String>,
    /// Output formats, comma-separated; default csv.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub format: Vec<OutputFormat>,
    /// Re-identification risk above which a row counts as at risk in the report; default 0.2 (a class
    /// smaller than 5).
    #[arg(long)]
    pub risk_threshold: Option<f64>,
    /// How to search the lattice: exact (default; a budgeted heuristic when the lattice is too large to
    /// enumerate), flash (ARX's Flash), flash-practical (Flash assuming practical monotonicity, ARX's
    /// shortcut), or heuristic:N (at most N transformations checked).
    #[arg(long)]
    pub search: Option<String>,
}

/// The TOML config of `kiban anonymize`. Paths are relative to the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    input: InputSection,
    #[serde(default)]
    output: OutputSection,
    #[serde(default)]
    columns: BTreeMap<String, ColumnSection>,
    others: Option<Role>,
    #[serde(default)]
    privacy: PrivacySection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSection {
    path: Option<PathBuf>,
    delimiter: Option<char>,
    header: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSection {
    dir: Option<PathBuf>,
    formats: Option<Vec<OutputFormat>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSection {
    role: Role,
    hierarchy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacySection {
    k: Option<usize>,
    #[serde(default)]
    l_diversity: Vec<String>,
    #[serde(default)]
    t_closeness: Vec<String>,
    suppression_limit: Option<f64>,
    metric: Option<String>,
    risk_threshold: Option<f64>,
    search: Option<String>,
}

/// Everything `kiban anonymize` needs, flags and config merged.
#[derive(Debug)]
struct Settings {
    input: PathBuf,
    out: PathBuf,
    delimiter: u8,
    header: bool,
    roles: BTreeMap<String, (Role, Option<HierarchySpec>)>,
    others: Option<Role>,
    models: Vec<PrivacyModel>,
    suppression_limit: f64,
    metric: Metric,
    formats: Vec<OutputFormat>,
    risk_threshold: f64,
    strategy: SearchStrategy,
}

fn settings(args: &AnonymizeArgs) -> Result<Settings> {
    let (file, base) = match &args.config {
        Some(path) => {
            let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let file: FileConfig = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
            (file, path.parent().unwrap_or(Path::new(".")).to_owned())
        }
        None => (FileConfig::default(), PathBuf::from(".")),
    };
    let cwd = PathBuf::from(".");
    let input = match (&args.input, &file.input.path) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) => base.join(path),
        (None, None) => bail!("no input: give a CSV file or `[input] path` in the config"),
    };
    let out = match (&args.out, &file.output.dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => base.join(dir),
        (None, None) => bail!("no output folder: give --out or `[output] dir` in the config"),
    };
    let delimiter = args.delimiter.or(file.input.delimiter).unwrap_or(',');
    if !delimiter.is_ascii() {
        bail!("the delimiter must be one ASCII character");
    }

    let mut roles: BTreeMap<String, (Role, Option<HierarchySpec>)> = BTreeMap::new();
    for (name, column) in &file.columns {
        let spec = column.hierarchy.as_deref().map(|text| HierarchySpec::parse(text, &base)).transpose()?;
        roles.insert(name.clone(), (column.role, spec));
    }
    let with_spec = |text: &str| -> Result<(String, Option<HierarchySpec>)> {
        Ok(match text.split_once('=') {
            Some((name, spec)) => (name.to_owned(), Some(HierarchySpec::parse(spec, &cwd)?)),
            None => (text.to_owned(), None),
        })
    };
    for text in &args.qi {
        let (name, spec) = with_spec(text)?;
        roles.insert(name, (Role::Quasi, spec));
    }
    for text in &args.sensitive {
        let (name, spec) = with_spec(text)?;
        roles.insert(name, (Role::Sensitive, spec));
    }
    for name in &args.identifying {
        roles.insert(name.clone(), (Role::Identifying, None));
    }
    for name in &args.insensitive {
        roles.insert(name.clone(), (Role::Insensitive, None));
    }
    for (name, (role, spec)) in &roles {
        if *role == Role::Quasi && spec.is_none() {
            bail!("quasi-identifier {name} needs a hierarchy (--qi {name}=HIERARCHY)");
        }
    }
    let sensitive: Vec<String> = roles
        .iter()
        .filter(|(_, (role, _))| *role == Role::Sensitive)
        .map(|(name, _)| name.clone())
        .collect();

    let mut models = Vec::new();
    if let Some(k) = args.k.or(file.privacy.k) {
        models.push(PrivacyModel::KAnonymity { k });
    }
    let l_specs = if args.l_diversity.is_empty() { &file.privacy.l_diversity } else { &args.l_diversity };
    for text in l_specs {
        models.push(parse_l_diversity(text, &sensitive)?);
    }
    let t_specs = if args.t_closeness.is_empty() { &file.privacy.t_closeness } else { &args.t_closeness };
    for text in t_specs {
        models.push(parse_t_closeness(text, &sensitive)?);
    }
    if models.is_empty() {
        bail!("no privacy model: give --k, --l-diversity or --t-closeness");
    }
    let metric = match args.metric.as_deref().or(file.privacy.metric.as_deref()) {
        Some(text) => parse_metric(text)?,
        None => Metric::Loss,
    };
    let formats = if !args.format.is_empty() {
        args.format.clone()
    } else {
        file.output.formats.clone().unwrap_or_else(|| vec![OutputFormat::Csv])
    };
    Ok(Settings {
        input,
        out,
        delimiter: delimiter as u8,
        header: !args.no_header && file.input.header.unwrap_or(true),
        roles,
        others: args.others.or(file.others),
        models,
        suppression_limit: args.suppression.or(file.privacy.suppression_limit).unwrap_or(0.0),
        metric,
        formats,
        risk_threshold: args.risk_threshold.or(file.privacy.risk_threshold).unwrap_or(0.2),
        strategy: parse_strategy(
            args.search.as_deref().or(file.privacy.search.as_deref()).unwrap_or("exact"),
        )?,
    })
}

/// One kept column, dictionary-encoded.
struct EncodedColumn {
    name: String,
    role: Role,
    spec: Option<HierarchySpec>,
    values: Vec<String>,
    index: HashMap<String, u32>,
    codes: Vec<u32>,
}

impl EncodedColumn {
    fn push(&mut self, value: &str) {
        let code = match self.index.get(value) {
            Some(code) => *code,
            None => {
                let code = self.values.len() as u32;
                self.values.push(value.to_owned());
                self.index.insert(value.to_owned(), code);
                code
            }
        };
        self.codes.push(code);
    }

    fn value(&self, row: usize) -> &str {
        &self.values[self.codes[row] as usize]
    }
}

/// The input read: every column's name in order, and the kept ones encoded.
struct InputTable {
    header: Vec<String>,
    /// For each input column, its index in `columns`, or `None` when it is identifying (dropped).
    kept: Vec<Option<usize>>,
    columns: Vec<EncodedColumn>,
    n_rows: usize,
}

fn read_input(settings: &Settings, progress: bool) -> Result<InputTable> {
    let path = &settings.input;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(settings.delimiter)
        .has_headers(settings.header)
        .flexible(false)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let header: Vec<String> = if settings.header {
        reader
            .headers()
            .with_context(|| format!("reading the header of {}", path.display()))?
            .iter()
            .map(str::to_owned)
            .collect()
    } else {
        let mut first = csv::StringRecord::new();
        let peeked = reader.read_record(&mut first).with_context(|| format!("reading {}", path.display()))?;
        let n = if peeked { first.len() } else { 0 };
        let names = (1..=n).map(|i| format!("c{i}")).collect();
        // Re-open so the first row is read as data.
        reader = csv::ReaderBuilder::new()
            .delimiter(settings.delimiter)
            .has_headers(false)
            .flexible(false)
            .from_path(path)
            .with_context(|| format!("opening {}", path.display()))?;
        names
    };
    let mut seen = std::collections::HashSet::new();
    for name in &header {
        if !seen.insert(name) {
            bail!("{}: column {name} appears twice in the header", path.display());
        }
    }
    for name in settings.roles.keys() {
        if !header.contains(name) {
            bail!("{}: there is no column {name} (columns: {})", path.display(), header.join(", "));
        }
    }
    let unassigned: Vec<&str> =
        header.iter().filter(|name| !settings.roles.contains_key(*name)).map(String::as_str).collect();
    if !unassigned.is_empty() && settings.others.is_none() {
        bail!(
            "columns without a role: {}; name each with --qi, --sensitive, --identifying or --insensitive, \
             or give --others",
            unassigned.join(", ")
        );
    }
    let mut kept = Vec::with_capacity(header.len());
    let mut columns = Vec::new();
    for name in &header {
        let (role, spec) = match settings.roles.get(name) {
            Some((role, spec)) => (*role, spec.clone()),
            None => (settings.others.unwrap_or(Role::Insensitive), None),
        };
        if role == Role::Quasi && spec.is_none() {
            bail!("quasi-identifier {name} needs a hierarchy");
        }
        if role == Role::Identifying {
            kept.push(None);
            continue;
        }
        kept.push(Some(columns.len()));
        columns.push(EncodedColumn {
            name: name.clone(),
            role,
            spec,
            values: Vec::new(),
            index: HashMap::new(),
            codes: Vec::new(),
        });
    }

    let bar = kiban_service::progress::spinner(progress, "reading");
    let mut record = csv::ByteRecord::new();
    let mut n_rows = 0usize;
    loop {
        let line = reader.position().line();
        let more = reader
            .read_byte_record(&mut record)
            .with_context(|| format!("{} line {line}", path.display()))?;
        if !more {
            break;
        }
        for (field, slot) in record.iter().zip(&kept) {
            if let Some(idx) = slot {
                let text = std::str::from_utf8(field).with_context(|| {
                    format!("{} line {line}, column {}: not UTF-8", path.display(), columns[*idx].name)
                })?;
                columns[*idx].push(text);
            }
        }
        n_rows += 1;
        if n_rows.is_multiple_of(65_536) {
            bar.set_position(n_rows as u64);
        }
    }
    bar.finish_and_clear();
    Ok(InputTable { header, kept, columns, n_rows })
}

/// What `kiban anonymize` produced.
#[derive(Debug)]
pub struct AnonymizeOutcome {
    pub n_rows: usize,
    pub n_suppressed: usize,
    pub n_classes: usize,
    pub levels: Vec<(String, usize)>,
    pub files: Vec<PathBuf>,
    pub report: PathBuf,
    pub loss: f64,
    /// Whether the transformation is proven optimal (false after a heuristic search).
    pub optimal: bool,
}

/// Runs `kiban anonymize`.
///
/// # Errors
/// Bad settings, unreadable input (with file, line and column, never the value), a value missing from
/// its hierarchy, no transformation satisfying the models, or an output that cannot be written.
pub fn anonymize(args: &AnonymizeArgs, progress: bool) -> Result<AnonymizeOutcome> {
    let started = Instant::now();
    let settings = settings(args)?;
    let input = read_input(&settings, progress)?;
    let read_seconds = started.elapsed().as_secs_f64();

    let mut qis = Vec::new();
    let mut qi_columns = Vec::new();
    let mut sensitive = Vec::new();
    for (idx, column) in input.columns.iter().enumerate() {
        let values = column.codes.iter().map(|&code| column.values[code as usize].as_str());
        match (column.role, &column.spec) {
            (Role::Quasi, Some(spec)) => {
                let hierarchy = spec.build(&column.name, &column.values)?;
                qis.push(
                    QuasiIdentifier::new(&column.name, values, hierarchy)
                        .with_context(|| format!("column {} of {}", column.name, settings.input.display()))?,
                );
                qi_columns.push(idx);
            }
            (Role::Sensitive, Some(spec)) => {
                let hierarchy = spec.build(&column.name, &column.values)?;
                sensitive
                    .push(SensitiveAttribute::with_hierarchy(&column.name, values, hierarchy).with_context(
                        || format!("column {} of {}", column.name, settings.input.display()),
                    )?);
            }
            (Role::Sensitive, None) => sensitive.push(SensitiveAttribute::new(&column.name, values)),
            _ => {}
        }
    }
    if qis.is_empty() {
        bail!("no quasi-identifier: name at least one with --qi COLUMN=HIERARCHY");
    }

    let risk_before = RiskProfile::of_sample(
        &class_sizes(
            (0..input.n_rows)
                .map(|row| qi_columns.iter().map(|&idx| input.columns[idx].codes[row]).collect::<Vec<u32>>()),
        ),
        settings.risk_threshold,
    );

    let config = AnonymizationConfig {
        models: settings.models.clone(),
        suppression_limit: settings.suppression_limit,
        metric: settings.metric,
    };
    let search_started = Instant::now();
    let solution = anonymize_with_strategy(&qis, &sensitive, &config, settings.strategy)
        .context("searching for a transformation")?;
    let search_seconds = search_started.elapsed().as_secs_f64();
    let risk_after = RiskProfile::of_sample(solution.class_sizes(), settings.risk_threshold);
    let utility = utility(&qis, &sensitive, &config, solution.levels())?;

    fs::create_dir_all(&settings.out).with_context(|| format!("creating {}", settings.out.display()))?;
    let stem = settings.input.file_stem().and_then(|stem| stem.to_str()).unwrap_or("table");
    let mut files = Vec::new();
    let generalize = Generalizer::new(&input, &qi_columns, &solution);
    for format in &settings.formats {
        let path = match format {
            OutputFormat::Csv => {
                let path = settings.out.join(format!("{stem}.anonymized.csv"));
                write_csv(&input, &generalize, settings.delimiter, &path)?;
                path
            }
            OutputFormat::Parquet => {
                let path = settings.out.join(format!("{stem}.anonymized.parquet"));
                write_parquet(&input, &generalize, &path)?;
                path
            }
        };
        files.push(path);
    }

    let report = TableReport {
        input: settings.input.display().to_string(),
        n_rows: input.n_rows,
        columns: input
            .header
            .iter()
            .zip(&input.kept)
            .map(|(name, kept)| {
                let role = kept.map_or(Role::Identifying, |idx| input.columns[idx].role);
                let qi = qis.iter().position(|qi| qi.name() == name);
                ColumnReport {
                    name: name.clone(),
                    role: format!("{role:?}").to_lowercase(),
                    level: qi.map(|idx| solution.levels()[idx]),
                    top_level: qi.map(|idx| qis[idx].hierarchy().top_level()),
                    loss: qi.map(|idx| solution.loss_per_qi()[idx]),
                }
            })
            .collect(),
        models: settings.models.iter().map(|model| ModelReport { text: describe_model(model) }).collect(),
        suppression_limit: settings.suppression_limit,
        metric: metric_name(settings.metric).to_owned(),
        metric_value: solution.loss(),
        discernibility: solution.discernibility(),
        n_suppressed: solution.n_suppressed(),
        class_sizes: solution.class_sizes().to_vec(),
        n_transformations_checked: solution.n_nodes_checked(),
        search: strategy_name(settings.strategy),
        optimal: solution.is_optimal(),
        utility,
        risk_before,
        risk_after,
        read_seconds,
        search_seconds,
        outputs: files.iter().map(|path| path.display().to_string()).collect(),
    };
    let report_path = write_table_report(&report, &settings.out).context("writing the report")?;
    Ok(AnonymizeOutcome {
        n_rows: input.n_rows,
        n_suppressed: solution.n_suppressed(),
        n_classes: solution.class_sizes().len(),
        levels: qis.iter().map(|qi| qi.name().to_owned()).zip(solution.levels().iter().copied()).collect(),
        files,
        report: report_path,
        loss: solution.loss(),
        optimal: solution.is_optimal(),
    })
}

/// Every metric's value for the transformation chosen, overall and per quasi-identifier where the metric
/// decomposes, whichever metric the search minimized.
fn utility(
    qis: &[QuasiIdentifier],
    sensitive: &[SensitiveAttribute],
    config: &AnonymizationConfig,
    levels: &[usize],
) -> Result<Vec<UtilityReport>> {
    let metrics = [
        Metric::Loss,
        Metric::NonUniformEntropy { monotonic: false },
        Metric::Discernibility { monotonic: false },
        Metric::AverageClassSize,
        Metric::Precision,
    ];
    let mut reports = Vec::with_capacity(metrics.len());
    for metric in metrics {
        let cfg = AnonymizationConfig { metric, ..config.clone() };
        let result = evaluate_with(qis, sensitive, levels, &cfg).context("measuring the transformation")?;
        reports.push(UtilityReport {
            metric: metric_name(metric).to_owned(),
            value: result.loss,
            per_column: qis
                .iter()
                .map(|qi| qi.name().to_owned())
                .zip(result.loss_per_qi.iter().copied())
                .collect(),
        });
    }
    Ok(reports)
}

/// Turns an input cell into its output cell under the chosen transformation.
struct Generalizer<'a> {
    /// For each kept column: its index among the quasi-identifiers, when it is one.
    qi_of_column: Vec<Option<usize>>,
    solution: &'a Solution,
}

impl<'a> Generalizer<'a> {
    fn new(input: &InputTable, qi_columns: &[usize], solution: &'a Solution) -> Self {
        let mut qi_of_column = vec![None; input.columns.len()];
        for (qi, &column) in qi_columns.iter().enumerate() {
            qi_of_column[column] = Some(qi);
        }
        Generalizer { qi_of_column, solution }
    }

    /// The output cell: the engine's released value for a quasi-identifier (`*` when the row is
    /// suppressed), the input value otherwise.
    fn cell<'b>(&'b self, input: &'b InputTable, column: usize, row: usize) -> &'b str {
        match self.qi_of_column[column] {
            Some(qi) => self.solution.generalized()[qi].get(row),
            None => input.columns[column].value(row),
        }
    }
}

fn write_csv(input: &InputTable, generalize: &Generalizer<'_>, delimiter: u8, path: &Path) -> Result<()> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    let error = || format!("writing {}", path.display());
    let names: Vec<&str> = input.columns.iter().map(|column| column.name.as_str()).collect();
    writer.write_record(&names).with_context(error)?;
    let mut record = csv::StringRecord::new();
    for row in 0..input.n_rows {
        record.clear();
        for column in 0..input.columns.len() {
            record.push_field(generalize.cell(input, column, row));
        }
        writer.write_record(&record).with_context(error)?;
    }
    let mut inner = writer.into_inner().map_err(|error| error.into_error()).with_context(error)?;
    inner.flush().with_context(error)?;
    Ok(())
}

/// Writes the output as Parquet. Column names keep ASCII letters, digits and `_`; anything else becomes
/// `_` (`marital-status` → `marital_status`), as kiban's Parquet files allow.
fn write_parquet(input: &InputTable, generalize: &Generalizer<'_>, path: &Path) -> Result<()> {
    let mut names = std::collections::HashSet::new();
    let mut columns = Vec::with_capacity(input.columns.len());
    for (idx, column) in input.columns.iter().enumerate() {
        let name: String = column
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
            .collect();
        if !names.insert(name.clone()) {
            bail!("columns {} and another both become {name} in Parquet; rename one", column.name);
        }
        let values = (0..input.n_rows).map(|row| Some(generalize.cell(input, idx, row).to_owned())).collect();
        columns.push(Column::new(&name, ColumnData::Utf8(values)));
    }
    let table = Table::new("anonymized", columns)?;
    kiban_columnar::write_parquet(&table, path).with_context(|| format!("writing {}", path.display()))
}

/// Prints what `kiban anonymize` did.
pub(crate) fn print_outcome(outcome: &AnonymizeOutcome) {
    let levels: Vec<String> = outcome.levels.iter().map(|(name, level)| format!("{name}={level}")).collect();
    let optimal = if outcome.optimal { "optimal" } else { "heuristic, not proven optimal" };
    println!("transformation: {} ({optimal})", levels.join(", "));
    println!(
        "{} rows: {} suppressed, {} equivalence classes released, information loss {:.6}",
        outcome.n_rows, outcome.n_suppressed, outcome.n_classes, outcome.loss
    );
    for file in &outcome.files {
        println!("output: {}", file.display());
    }
    println!("report: {}", outcome.report.display());
}
