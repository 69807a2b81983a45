//! TOML → [`ReleasePolicy`], collecting every problem with its line and key instead of stopping at the first.

use std::collections::BTreeMap;

use kiban_model::NaiveDate;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::catalog::{self, TABLES};
use super::{
    Action, CodeRange, CodesModel, Cohort, CountsModel, EventTable, EventsModel, Generalization, Icd10Level,
    Mode, Peculiar, PolicyErrors, PolicyIssue, Privacy, Recipient, ReleasePolicy, SensitiveModel,
    UserHierarchy,
};

pub(super) fn parse(text: &str) -> Result<ReleasePolicy, PolicyErrors> {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let mut p = Parser { text, issues: Vec::new() };
    for error in syntax_errors {
        let line = error.span().map_or(0, |span| p.line(span.start));
        p.issues.push(PolicyIssue { line, key: String::new(), message: error.message().trim().to_owned() });
    }
    let root = root.get_ref();
    p.allow_keys(
        root,
        "",
        &["mode", "reference_date", "fhir", "recipient", "cohort", "privacy", "peculiar", "columns"],
    );

    let mode = match p.required_str(root, "", "mode") {
        Some((text, line)) => Mode::parse(text).or_else(|| {
            p.issue(
                line,
                "mode",
                format!("unknown mode `{text}`: expected anonymized, pseudonymized or anonymized-linkable"),
            );
            None
        }),
        None => None,
    };
    let reference_date = root.get("reference_date").and_then(|value| p.date(value, "reference_date"));
    let fhir = root.get("fhir").and_then(|value| p.bool(value, "fhir")).unwrap_or(false);
    let recipient = p.recipient(root);
    let cohort = p.cohort(root);
    let mut privacy = p.privacy(root);
    let peculiar = p.peculiar(root);
    let columns = p.columns(root, mode.unwrap_or(Mode::Anonymized));
    let declared = |key: &str| {
        root.get("privacy").is_some_and(
            |privacy| matches!(privacy.get_ref(), DeValue::Table(table) if table.contains_key(key)),
        )
    };
    if !declared("codes") && !declared("km") {
        // The built-in codes model covers the diagnoses when the policy releases their codes.
        privacy.codes.retain(|model| {
            model.table.code_column().is_some_and(|column| {
                columns.get(model.table.name()).is_some_and(|table| table.contains_key(column))
            })
        });
    }
    if mode == Some(Mode::AnonymizedLinkable)
        && columns.get("persons").is_none_or(|c| !c.contains_key("provision_id"))
    {
        p.issue(
            0,
            "columns.persons.provision_id",
            "mode anonymized-linkable releases the provision ID: add `provision_id = \"keep\"`".to_owned(),
        );
    }
    let column_issues = p.issues.iter().any(|issue| issue.key.starts_with("columns."));
    if !column_issues && !columns.values().any(|table| !table.is_empty()) {
        p.issue(
            0,
            "columns",
            "the policy releases no column: name at least one under [columns.<table>]".to_owned(),
        );
    }
    if !column_issues && let Some(mode) = mode {
        // The models are checked against the released columns once those are known.
        let probe = ReleasePolicy {
            recipient: Recipient { name: String::new(), address: String::new() },
            mode,
            reference_date,
            cohort: Cohort::default(),
            privacy: privacy.clone(),
            peculiar: peculiar.clone(),
            columns: columns.clone(),
            fhir,
        };
        p.issues.extend(probe.model_problems());
    }
    match (p.issues.is_empty(), mode, recipient) {
        (true, Some(mode), Some(recipient)) => {
            Ok(ReleasePolicy { recipient, mode, reference_date, cohort, privacy, peculiar, columns, fhir })
        }
        _ => {
            p.issues.sort_by_key(|issue| issue.line);
            Err(PolicyErrors(p.issues))
        }
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

struct Parser<'t> {
    text: &'t str,
    issues: Vec<PolicyIssue>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text.get(..offset).unwrap_or(self.text).bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn line_of(&self, value: &Value<'_>) -> usize {
        self.line(value.span().start)
    }

    fn issue(&mut self, line: usize, key: impl Into<String>, message: String) {
        self.issues.push(PolicyIssue { line, key: key.into(), message });
    }

    /// Reports every key of `table` not in `allowed`.
    fn allow_keys(&mut self, table: &DeTable<'_>, prefix: &str, allowed: &[&str]) {
        for key in table.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let line = self.line(key.span().start);
                self.issue(
                    line,
                    join(prefix, key.get_ref()),
                    format!("unknown key: expected one of {}", allowed.join(", ")),
                );
            }
        }
    }

    fn table<'a, 'i>(&mut self, parent: &'a DeTable<'i>, prefix: &str, key: &str) -> Option<&'a DeTable<'i>> {
        let value = parent.get(key)?;
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            _ => {
                let line = self.line_of(value);
                self.issue(line, join(prefix, key), "expected a table".to_owned());
                None
            }
        }
    }

    fn str<'a>(&mut self, value: &'a Value<'_>, key: &str) -> Option<&'a str> {
        if let DeValue::String(text) = value.get_ref() {
            return Some(text.as_ref());
        }
        let line = self.line_of(value);
        self.issue(line, key, "expected a string".to_owned());
        None
    }

    fn required_str<'a>(
        &mut self,
        table: &'a DeTable<'_>,
        prefix: &str,
        key: &str,
    ) -> Option<(&'a str, usize)> {
        let full = join(prefix, key);
        let Some(value) = table.get(key) else {
            self.issue(0, full, "missing".to_owned());
            return None;
        };
        let line = self.line_of(value);
        let text = self.str(value, &full)?;
        if text.trim().is_empty() {
            self.issue(line, full, "must not be empty".to_owned());
            return None;
        }
        Some((text, line))
    }

    fn bool(&mut self, value: &Value<'_>, key: &str) -> Option<bool> {
        if let DeValue::Boolean(flag) = value.get_ref() {
            return Some(*flag);
        }
        let line = self.line_of(value);
        self.issue(line, key, "expected true or false".to_owned());
        None
    }

    fn number(&mut self, value: &Value<'_>, key: &str) -> Option<f64> {
        let parsed = match value.get_ref() {
            DeValue::Integer(integer) if integer.radix() == 10 => {
                integer.as_str().replace('_', "").parse().ok()
            }
            DeValue::Float(float) => float.as_str().replace('_', "").parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            let line = self.line_of(value);
            self.issue(line, key, "expected a number".to_owned());
        }
        parsed.filter(|number: &f64| number.is_finite())
    }

    /// A whole number in `min..=max`.
    fn integer(&mut self, value: &Value<'_>, key: &str, min: u64, max: u64) -> Option<u64> {
        let parsed = match value.get_ref() {
            DeValue::Integer(integer) if integer.radix() == 10 => {
                integer.as_str().replace('_', "").parse::<u64>().ok()
            }
            _ => None,
        };
        match parsed {
            Some(number) if (min..=max).contains(&number) => Some(number),
            _ => {
                let line = self.line_of(value);
                self.issue(line, key, format!("expected a whole number from {min} to {max}"));
                None
            }
        }
    }

    /// A date, as a TOML date (`2026-04-01`) or a string.
    fn date(&mut self, value: &Value<'_>, key: &str) -> Option<NaiveDate> {
        let text = match value.get_ref() {
            DeValue::Datetime(datetime) => datetime.to_string(),
            DeValue::String(text) => text.to_string(),
            _ => String::new(),
        };
        let parsed = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
        if parsed.is_none() {
            let line = self.line_of(value);
            self.issue(line, key, "expected a date such as 2026-04-01".to_owned());
        }
        parsed
    }

    fn string_list(&mut self, value: &Value<'_>, key: &str) -> Vec<(String, usize)> {
        let DeValue::Array(items) = value.get_ref() else {
            let line = self.line_of(value);
            self.issue(line, key, "expected a list of strings".to_owned());
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| {
                let line = self.line_of(item);
                self.str(item, key).map(|text| (text.to_owned(), line))
            })
            .collect()
    }

    fn recipient(&mut self, root: &DeTable<'_>) -> Option<Recipient> {
        let Some(table) = self.table(root, "", "recipient") else {
            if root.get("recipient").is_none() {
                self.issue(
                    0,
                    "recipient",
                    "missing: the recipient's name and address (提供先) are ledger items".to_owned(),
                );
            }
            return None;
        };
        self.allow_keys(table, "recipient", &["name", "address"]);
        let name = self.required_str(table, "recipient", "name").map(|(text, _)| text.trim().to_owned());
        let address =
            self.required_str(table, "recipient", "address").map(|(text, _)| text.trim().to_owned());
        Some(Recipient { name: name?, address: address? })
    }

    fn cohort(&mut self, root: &DeTable<'_>) -> Cohort {
        let mut cohort = Cohort::default();
        let Some(table) = self.table(root, "", "cohort") else { return cohort };
        self.allow_keys(table, "cohort", &["diagnoses", "from", "to", "providers"]);
        if let Some(value) = table.get("diagnoses") {
            for (text, line) in self.string_list(value, "cohort.diagnoses") {
                match CodeRange::parse(&text) {
                    Some(range) => cohort.diagnoses.push(range),
                    None => self.issue(
                        line,
                        "cohort.diagnoses",
                        format!("`{text}` is not an ICD-10 code or range such as E11 or E10-E14"),
                    ),
                }
            }
        }
        cohort.from = table.get("from").and_then(|value| self.date(value, "cohort.from"));
        cohort.to = table.get("to").and_then(|value| self.date(value, "cohort.to"));
        if let (Some(from), Some(to), Some(value)) = (cohort.from, cohort.to, table.get("to"))
            && from > to
        {
            let line = self.line_of(value);
            self.issue(line, "cohort.to", "the window ends before it starts".to_owned());
        }
        if let Some(value) = table.get("providers") {
            cohort.providers =
                self.string_list(value, "cohort.providers").into_iter().map(|(text, _)| text).collect();
        }
        cohort
    }

    fn privacy(&mut self, root: &DeTable<'_>) -> Privacy {
        let mut privacy = Privacy::default();
        let Some(table) = self.table(root, "", "privacy") else { return privacy };
        self.allow_keys(
            table,
            "privacy",
            &[
                "k",
                "suppression_limit",
                "km",
                "codes",
                "events",
                "counts",
                "population",
                "max_shift_days",
                "l_diversity",
                "t_closeness",
            ],
        );
        if let Some(value) = table.get("l_diversity") {
            privacy.sensitive.extend(self.l_diversity(value));
        }
        if let Some(value) = table.get("t_closeness") {
            match self.number(value, "privacy.t_closeness") {
                Some(t) if t > 0.0 && t <= 1.0 => privacy.sensitive.push(SensitiveModel::TCloseness(t)),
                Some(_) => {
                    let line = self.line_of(value);
                    self.issue(line, "privacy.t_closeness", "must be above 0 and at most 1".to_owned());
                }
                None => {}
            }
        }
        if let Some(value) = table.get("k") {
            privacy.k = self.integer(value, "privacy.k", 2, 1_000_000).map_or(privacy.k, to_usize);
        }
        if let Some(value) = table.get("suppression_limit") {
            match self.number(value, "privacy.suppression_limit") {
                Some(limit) if (0.0..=1.0).contains(&limit) => privacy.suppression_limit = limit,
                Some(_) => {
                    let line = self.line_of(value);
                    self.issue(line, "privacy.suppression_limit", "must be between 0.0 and 1.0".to_owned());
                }
                None => {}
            }
        }
        if let Some(value) = table.get("max_shift_days") {
            privacy.max_shift_days = self
                .integer(value, "privacy.max_shift_days", 1, 3650)
                .map_or(privacy.max_shift_days, |days| u32::try_from(days).unwrap_or(privacy.max_shift_days));
        }
        if let Some(value) = table.get("population") {
            privacy.population = self.integer(value, "privacy.population", 1, 10_000_000_000);
        }
        let default_limit = privacy.suppression_limit;
        let models = |p: &mut Self, key: &str| -> Option<Vec<(&DeTable<'_>, String, usize)>> {
            let value = table.get(key)?;
            let full = format!("privacy.{key}");
            let DeValue::Array(items) = value.get_ref() else {
                let line = p.line_of(value);
                p.issue(line, full, format!("expected a list of models: [[privacy.{key}]] tables"));
                return Some(Vec::new());
            };
            let mut tables = Vec::new();
            for (idx, item) in items.iter().enumerate() {
                let line = p.line_of(item);
                match item.get_ref() {
                    DeValue::Table(model) => tables.push((model, format!("{full}[{idx}]"), line)),
                    _ => p.issue(line, format!("{full}[{idx}]"), "expected a table".to_owned()),
                }
            }
            Some(tables)
        };
        if let Some(tables) = models(self, "codes") {
            privacy.codes = tables
                .into_iter()
                .filter_map(|(model, key, line)| self.codes_model(model, &key, line))
                .collect();
        }
        if let Some(tables) = models(self, "events") {
            privacy.events = tables
                .into_iter()
                .filter_map(|(model, key, line)| self.events_model(model, &key, line, default_limit))
                .collect();
        }
        if let Some(tables) = models(self, "counts") {
            privacy.counts = tables
                .into_iter()
                .filter_map(|(model, key, line)| self.counts_model(model, &key, line, default_limit))
                .collect();
        }
        // `km` is the older spelling of one codes model: any m full ICD-10 codes, without the demographics.
        if let Some(value) = table.get("km") {
            let line = self.line_of(value);
            if table.contains_key("codes") {
                self.issue(line, "privacy.km", "give either km or [[privacy.codes]], not both".to_owned());
            }
            privacy.codes = match value.get_ref() {
                DeValue::Boolean(false) => Vec::new(),
                DeValue::Table(km) => {
                    self.allow_keys(km, "privacy.km", &["k", "m"]);
                    let k = km
                        .get("k")
                        .map_or(Some(privacy.k as u64), |v| self.integer(v, "privacy.km.k", 2, 1_000_000));
                    let m = km.get("m").map_or(Some(2), |v| self.integer(v, "privacy.km.m", 1, 4));
                    vec![CodesModel {
                        table: EventTable::Diagnoses,
                        level: 0,
                        m: to_usize(m.unwrap_or(2)),
                        k: to_usize(k.unwrap_or(5)),
                        demographics: false,
                    }]
                }
                _ => {
                    self.issue(line, "privacy.km", "expected { k = 5, m = 2 } or false".to_owned());
                    Vec::new()
                }
            };
        }
        privacy
    }

    /// The `table` of a model, which must have a code column unless `counts`.
    fn model_table(
        &mut self,
        model: &DeTable<'_>,
        key: &str,
        line: usize,
        coded: bool,
    ) -> Option<EventTable> {
        let (name, name_line) = self.required_str(model, key, "table")?;
        match EventTable::parse(name) {
            Some(table) if !coded || table.code_column().is_some() => Some(table),
            _ => {
                let expected = if coded {
                    "diagnoses, prescriptions, labs or procedures"
                } else {
                    "encounters, diagnoses, prescriptions, labs or procedures"
                };
                self.issue(
                    name_line.max(line),
                    format!("{key}.table"),
                    format!("unknown table `{name}`: expected {expected}"),
                );
                None
            }
        }
    }

    /// `level`: a number (0 = the code itself), or for diagnoses `code`, `category`, `block`, `chapter`.
    fn model_level(
        &mut self,
        model: &DeTable<'_>,
        key: &str,
        table: EventTable,
        default: usize,
    ) -> Option<usize> {
        let Some(value) = model.get("level") else { return Some(default) };
        let key = format!("{key}.level");
        if let DeValue::String(name) = value.get_ref() {
            let level = match (table, name.as_ref()) {
                (_, "code") => Some(0),
                (EventTable::Diagnoses, "category") => Some(1),
                (EventTable::Diagnoses, "block") => Some(2),
                (EventTable::Diagnoses, "chapter") => Some(3),
                _ => None,
            };
            if level.is_none() {
                let line = self.line_of(value);
                self.issue(
                    line,
                    key,
                    format!("unknown level `{name}`: expected code, category, block or chapter (diagnoses), or a number"),
                );
            }
            return level;
        }
        self.integer(value, &key, 0, 8).map(to_usize)
    }

    fn model_k(&mut self, model: &DeTable<'_>, key: &str, line: usize) -> Option<usize> {
        let Some(value) = model.get("k") else {
            self.issue(line, format!("{key}.k"), "missing: every model names its own k".to_owned());
            return None;
        };
        self.integer(value, &format!("{key}.k"), 2, 1_000_000).map(to_usize)
    }

    fn model_flag(&mut self, model: &DeTable<'_>, key: &str, name: &str, default: bool) -> bool {
        model.get(name).and_then(|value| self.bool(value, &format!("{key}.{name}"))).unwrap_or(default)
    }

    fn model_limit(&mut self, model: &DeTable<'_>, key: &str, default: f64) -> f64 {
        let Some(value) = model.get("suppression_limit") else { return default };
        let key = format!("{key}.suppression_limit");
        match self.number(value, &key) {
            Some(limit) if (0.0..=1.0).contains(&limit) => limit,
            Some(_) => {
                let line = self.line_of(value);
                self.issue(line, key, "must be between 0.0 and 1.0".to_owned());
                default
            }
            None => default,
        }
    }

    /// `{ table, level, m, k, demographics }`.
    fn codes_model(&mut self, model: &DeTable<'_>, key: &str, line: usize) -> Option<CodesModel> {
        self.allow_keys(model, key, &["table", "level", "m", "k", "demographics"]);
        let table = self.model_table(model, key, line, true);
        let level = table.and_then(|table| self.model_level(model, key, table, 0));
        let m = model.get("m").map_or(Some(2), |value| self.integer(value, &format!("{key}.m"), 1, 4));
        let k = self.model_k(model, key, line);
        let demographics = self.model_flag(model, key, "demographics", true);
        Some(CodesModel { table: table?, level: level?, m: to_usize(m?), k: k?, demographics })
    }

    /// `{ table, level, m, window_days, k, demographics, suppression_limit }`.
    fn events_model(
        &mut self,
        model: &DeTable<'_>,
        key: &str,
        line: usize,
        default_limit: f64,
    ) -> Option<EventsModel> {
        self.allow_keys(
            model,
            key,
            &["table", "level", "m", "window_days", "k", "demographics", "suppression_limit"],
        );
        let table = self.model_table(model, key, line, true);
        let level = table.and_then(|table| self.model_level(model, key, table, 0));
        let m = model.get("m").map_or(Some(2), |value| self.integer(value, &format!("{key}.m"), 1, 3));
        let window = model
            .get("window_days")
            .map_or(Some(1), |value| self.integer(value, &format!("{key}.window_days"), 1, 3650));
        let k = self.model_k(model, key, line);
        let demographics = self.model_flag(model, key, "demographics", true);
        let suppression_limit = self.model_limit(model, key, default_limit);
        Some(EventsModel {
            table: table?,
            level: level?,
            m: to_usize(m?),
            window_days: u32::try_from(window?).unwrap_or(1),
            k: k?,
            demographics,
            suppression_limit,
        })
    }

    /// `{ table, k, demographics, suppression_limit }`.
    fn counts_model(
        &mut self,
        model: &DeTable<'_>,
        key: &str,
        line: usize,
        default_limit: f64,
    ) -> Option<CountsModel> {
        self.allow_keys(model, key, &["table", "k", "demographics", "suppression_limit"]);
        let table = self.model_table(model, key, line, false);
        let k = self.model_k(model, key, line);
        let demographics = self.model_flag(model, key, "demographics", true);
        let suppression_limit = self.model_limit(model, key, default_limit);
        Some(CountsModel { table: table?, k: k?, demographics, suppression_limit })
    }

    /// `{ kind = "distinct" | "entropy" | "recursive", l = 2, c = 3 }`.
    fn l_diversity(&mut self, value: &Value<'_>) -> Option<SensitiveModel> {
        let key = "privacy.l_diversity";
        let line = self.line_of(value);
        let DeValue::Table(table) = value.get_ref() else {
            self.issue(line, key, "expected { kind = \"distinct\", l = 2 }".to_owned());
            return None;
        };
        self.allow_keys(table, key, &["kind", "l", "c"]);
        let kind =
            table.get("kind").map_or(Some("distinct"), |kind| self.str(kind, &format!("{key}.kind")))?;
        let Some(l) = table.get("l") else {
            self.issue(line, format!("{key}.l"), "missing".to_owned());
            return None;
        };
        match kind {
            "distinct" => {
                self.integer(l, &format!("{key}.l"), 2, 1000).map(|l| SensitiveModel::DistinctL(to_usize(l)))
            }
            "entropy" => {
                self.number(l, &format!("{key}.l")).filter(|l| *l >= 1.0).map(SensitiveModel::EntropyL)
            }
            "recursive" => {
                let l = self.integer(l, &format!("{key}.l"), 2, 1000)?;
                let c = table.get("c").map_or(Some(1.0), |c| self.number(c, &format!("{key}.c")))?;
                Some(SensitiveModel::RecursiveCL { c, l: to_usize(l) })
            }
            other => {
                self.issue(
                    line,
                    format!("{key}.kind"),
                    format!("unknown kind `{other}`: expected distinct, entropy or recursive"),
                );
                None
            }
        }
    }

    fn peculiar(&mut self, root: &DeTable<'_>) -> Peculiar {
        let mut peculiar = Peculiar::default();
        let Some(table) = self.table(root, "", "peculiar") else { return peculiar };
        self.allow_keys(table, "peculiar", &["age_top_code", "rare_code_persons", "lab_percentiles"]);
        if let Some(value) = table.get("age_top_code") {
            peculiar.age_top_code = self
                .integer(value, "peculiar.age_top_code", 60, 120)
                .map_or(peculiar.age_top_code, |age| u32::try_from(age).unwrap_or(90));
        }
        if let Some(value) = table.get("rare_code_persons") {
            peculiar.rare_code_persons = self
                .integer(value, "peculiar.rare_code_persons", 1, 1_000_000)
                .map_or(peculiar.rare_code_persons, to_usize);
        }
        if let Some(value) = table.get("lab_percentiles") {
            let bounds = match value.get_ref() {
                DeValue::Array(items) if items.len() == 2 => {
                    let low = self.number(&items[0], "peculiar.lab_percentiles");
                    let high = self.number(&items[1], "peculiar.lab_percentiles");
                    low.zip(high).filter(|(low, high)| 0.0 <= *low && low < high && *high <= 100.0)
                }
                _ => None,
            };
            match bounds {
                Some(bounds) => peculiar.lab_percentiles = bounds,
                None => {
                    let line = self.line_of(value);
                    self.issue(
                        line,
                        "peculiar.lab_percentiles",
                        "expected [low, high] with 0 ≤ low < high ≤ 100".to_owned(),
                    );
                }
            }
        }
        peculiar
    }

    fn columns(&mut self, root: &DeTable<'_>, mode: Mode) -> BTreeMap<String, BTreeMap<String, Action>> {
        let mut out = BTreeMap::new();
        let Some(tables) = self.table(root, "", "columns") else {
            if root.get("columns").is_none() {
                self.issue(
                    0,
                    "columns",
                    "missing: name the released columns under [columns.<table>]".to_owned(),
                );
            }
            return out;
        };
        self.allow_keys(tables, "columns", &TABLES);
        for name in TABLES {
            let prefix = format!("columns.{name}");
            let Some(table) = self.table(tables, "columns", name) else { continue };
            let mut columns = BTreeMap::new();
            for (key, value) in table {
                let column = key.get_ref().as_ref();
                let full = format!("{prefix}.{column}");
                let line = self.line(key.span().start);
                let Some(def) = catalog::find(name, column) else {
                    let known: Vec<&str> = catalog::CATALOG
                        .iter()
                        .filter(|def| def.table == name)
                        .map(|def| def.column)
                        .collect();
                    self.issue(line, full, format!("unknown column: {name} has {}", known.join(", ")));
                    continue;
                };
                let Some(action) = self.action(value, &full) else { continue };
                let Some(action) = action else { continue }; // `drop`
                if let Some(problem) = catalog::type_problem(def, &action) {
                    self.issue(line, full, problem);
                } else if let Some(problem) = catalog::rule_problem(def, &action, mode) {
                    self.issue(line, full, problem);
                } else {
                    columns.insert(column.to_owned(), action);
                }
            }
            out.insert(name.to_owned(), columns);
        }
        out
    }

    /// One column's action; `Some(None)` is `drop`.
    fn action(&mut self, value: &Value<'_>, key: &str) -> Option<Option<Action>> {
        let line = self.line_of(value);
        match value.get_ref() {
            DeValue::String(word) => match word.as_ref() {
                "drop" => Some(None),
                "keep" => Some(Some(Action::Keep)),
                "pseudonym" => Some(Some(Action::Pseudonym)),
                "date_shift" => Some(Some(Action::DateShift)),
                other => {
                    self.issue(
                        line,
                        key,
                        format!("unknown action `{other}`: expected drop, keep, pseudonym, date_shift, or a table such as {{ generalize = \"month\" }}, {{ top_code = 300 }}, {{ round = 5 }}"),
                    );
                    None
                }
            },
            DeValue::Table(table) => self.table_action(table, key, line).map(Some),
            _ => {
                self.issue(line, key, "expected an action: a word such as \"keep\" or a table".to_owned());
                None
            }
        }
    }

    fn table_action(&mut self, table: &DeTable<'_>, key: &str, line: usize) -> Option<Action> {
        if let Some(kind) = table.get("generalize") {
            self.allow_keys(table, key, &["generalize", "width", "digits", "level", "length", "file"]);
            let kind = self.str(kind, &format!("{key}.generalize"))?.to_owned();
            let param = |p: &mut Self, name: &str, min: u64, max: u64, default: Option<u64>| -> Option<u64> {
                match table.get(name) {
                    Some(value) => p.integer(value, &format!("{key}.{name}"), min, max),
                    None if default.is_some() => default,
                    None => {
                        p.issue(line, format!("{key}.{name}"), format!("missing: `{kind}` needs `{name}`"));
                        None
                    }
                }
            };
            let generalization = match kind.as_str() {
                "age_band" => Generalization::AgeBand {
                    width: u32::try_from(param(self, "width", 1, 50, Some(5))?).unwrap_or(5),
                },
                "month" => Generalization::Month,
                "year" => Generalization::Year,
                "prefecture" => Generalization::Prefecture,
                "postal" => Generalization::PostalDigits(to_usize(param(self, "digits", 1, 7, None)?)),
                "prefix" => Generalization::Prefix(to_usize(param(self, "length", 1, 32, None)?)),
                "hierarchy" => {
                    let level = to_usize(param(self, "level", 1, 32, None)?);
                    let Some(file) = table.get("file") else {
                        self.issue(
                            line,
                            format!("{key}.file"),
                            "missing: `hierarchy` needs `file`, the hierarchy's path".to_owned(),
                        );
                        return None;
                    };
                    let file = self.str(file, &format!("{key}.file"))?.to_owned();
                    Generalization::Hierarchy(UserHierarchy::new(file, level))
                }
                "icd10" => {
                    let level = table
                        .get("level")
                        .map_or(Some("category"), |v| self.str(v, &format!("{key}.level")))?;
                    Generalization::Icd10(match level {
                        "category" => Icd10Level::Category,
                        "block" => Icd10Level::Block,
                        "chapter" => Icd10Level::Chapter,
                        other => {
                            self.issue(
                                line,
                                format!("{key}.level"),
                                format!(
                                    "unknown ICD-10 level `{other}`: expected category, block or chapter"
                                ),
                            );
                            return None;
                        }
                    })
                }
                other => {
                    self.issue(line, format!("{key}.generalize"), format!("unknown generalization `{other}`: expected age_band, month, year, prefecture, postal, icd10, prefix or hierarchy"));
                    return None;
                }
            };
            return Some(Action::Generalize(generalization));
        }
        if table.contains_key("top_code") || table.contains_key("bottom_code") {
            self.allow_keys(table, key, &["top_code", "bottom_code"]);
            let max = table.get("top_code").map(|v| self.number(v, &format!("{key}.top_code")));
            let min = table.get("bottom_code").map(|v| self.number(v, &format!("{key}.bottom_code")));
            if matches!(max, Some(None)) || matches!(min, Some(None)) {
                return None;
            }
            let (min, max) = (min.flatten(), max.flatten());
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                self.issue(line, key, "bottom_code is above top_code".to_owned());
                return None;
            }
            return Some(Action::Clamp { min, max });
        }
        if let Some(value) = table.get("round") {
            self.allow_keys(table, key, &["round"]);
            return match self.number(value, &format!("{key}.round")) {
                Some(to) if to > 0.0 => Some(Action::Round { to }),
                Some(_) => {
                    self.issue(line, format!("{key}.round"), "must be above 0".to_owned());
                    None
                }
                None => None,
            };
        }
        self.issue(
            line,
            key,
            "a table action needs `generalize`, `top_code`/`bottom_code` or `round`".to_owned(),
        );
        None
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
