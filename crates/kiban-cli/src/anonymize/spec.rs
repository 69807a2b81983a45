//! The small languages of `kiban anonymize`, shared by its flags and its TOML config: hierarchy specs,
//! privacy models and metrics.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kiban_engine::hierarchy::{Hierarchy, IntervalSpec};
use kiban_engine::kanon::{Metric, PrivacyModel, SearchStrategy};

/// How a quasi-identifier (or a sensitive attribute for hierarchical t-closeness) is generalized.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HierarchySpec {
    /// An ARX hierarchy CSV (`;`-separated, one row per original value, each further column coarser).
    File(PathBuf),
    /// `intervals:MIN:MAX:W1,W2,…[:TOP]`: integer bands, each width a multiple of the one before.
    Intervals { min: i64, max: i64, widths: Vec<u32>, top_code: Option<i64> },
    /// `mask[:CHAR]`: codes of one length, masked from the right one character per level.
    Mask(char),
    /// `prefix:L1,L2,…`: codes cut to prefixes of decreasing length (ICD-10 `E119 → E11 → E → *`).
    Prefix(Vec<usize>),
    /// `date`: `YYYY-MM-DD → YYYY-MM → YYYY → *` (also `YYYYMMDD` and `YYYY/MM/DD`).
    Date,
}

impl HierarchySpec {
    /// Parses a spec; a file path is taken relative to `base`.
    pub(crate) fn parse(text: &str, base: &Path) -> Result<HierarchySpec> {
        let mut parts = text.split(':');
        let kind = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        Ok(match kind {
            "intervals" => {
                let [min, max, widths, top @ ..] = rest.as_slice() else {
                    bail!("hierarchy `{text}`: expected intervals:MIN:MAX:W1,W2,…[:TOP]");
                };
                let number = |what: &str, value: &str| -> Result<i64> {
                    value
                        .trim()
                        .parse()
                        .with_context(|| format!("hierarchy `{text}`: {what} is not an integer"))
                };
                let widths = widths
                    .split(',')
                    .map(|width| width.trim().parse::<u32>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("hierarchy `{text}`: widths must be positive integers"))?;
                let top_code = match top {
                    [] => None,
                    [top] => Some(number("TOP", top)?),
                    _ => bail!("hierarchy `{text}`: too many parts"),
                };
                HierarchySpec::Intervals {
                    min: number("MIN", min)?,
                    max: number("MAX", max)?,
                    widths,
                    top_code,
                }
            }
            "mask" => match rest.as_slice() {
                [] => HierarchySpec::Mask('*'),
                [mask] if mask.chars().count() == 1 => {
                    HierarchySpec::Mask(mask.chars().next().unwrap_or('*'))
                }
                _ => bail!("hierarchy `{text}`: expected mask or mask:CHAR"),
            },
            "prefix" => {
                let [lengths] = rest.as_slice() else {
                    bail!("hierarchy `{text}`: expected prefix:L1,L2,…")
                };
                let lengths = lengths
                    .split(',')
                    .map(|length| length.trim().parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("hierarchy `{text}`: lengths must be integers"))?;
                HierarchySpec::Prefix(lengths)
            }
            "date" if rest.is_empty() => HierarchySpec::Date,
            _ => HierarchySpec::File(base.join(text)),
        })
    }

    /// Builds the hierarchy over `values` (the column's distinct values).
    pub(crate) fn build(&self, column: &str, values: &[String]) -> Result<Hierarchy> {
        let context = || format!("building the hierarchy of column {column}");
        match self {
            HierarchySpec::File(path) => read_arx_hierarchy(path).with_context(context),
            HierarchySpec::Intervals { min, max, widths, top_code } => {
                Hierarchy::intervals(&IntervalSpec { min: *min, max: *max, widths, top_code: *top_code })
                    .with_context(context)
            }
            HierarchySpec::Mask(mask) => Hierarchy::masking(values, *mask).with_context(context),
            HierarchySpec::Prefix(lengths) => Hierarchy::prefixes(values, lengths).with_context(context),
            HierarchySpec::Date => Hierarchy::dates(values).with_context(context),
        }
    }
}

/// Reads an ARX hierarchy file: `;`-separated, no header, one row per original value.
pub(crate) fn read_arx_hierarchy(path: &Path) -> Result<Hierarchy> {
    let rows = kiban_service::read_arx_rows(path)?;
    Hierarchy::from_rows(&rows).with_context(|| format!("hierarchy {}", path.display()))
}

/// Parses an l-diversity spec: `[ATTRIBUTE:]distinct:L`, `[ATTRIBUTE:]entropy:L` or
/// `[ATTRIBUTE:]recursive:C:L`. Without an attribute the only sensitive column is meant.
pub(crate) fn parse_l_diversity(text: &str, sensitive: &[String]) -> Result<PrivacyModel> {
    let (attribute, rest) = split_attribute(text, &["distinct", "entropy", "recursive"], sensitive)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let number = |value: &str| -> Result<f64> {
        value
            .trim()
            .parse::<f64>()
            .with_context(|| format!("l-diversity `{text}`: `{value}` is not a number"))
    };
    let whole = |value: f64| -> Result<usize> {
        if value >= 1.0 && value.fract() == 0.0 {
            Ok(value as usize)
        } else {
            bail!("l-diversity `{text}`: l must be a whole number ≥ 1")
        }
    };
    Ok(match parts.as_slice() {
        ["distinct", l] => PrivacyModel::DistinctLDiversity { attribute, l: whole(number(l)?)? },
        ["entropy", l] => PrivacyModel::EntropyLDiversity { attribute, l: number(l)? },
        ["recursive", c, l] => {
            PrivacyModel::RecursiveCLDiversity { attribute, c: number(c)?, l: whole(number(l)?)? }
        }
        _ => bail!("l-diversity `{text}`: expected [ATTRIBUTE:]distinct:L, entropy:L or recursive:C:L"),
    })
}

/// Parses a t-closeness spec: `[ATTRIBUTE:]equal:T` or `[ATTRIBUTE:]hierarchical:T`.
pub(crate) fn parse_t_closeness(text: &str, sensitive: &[String]) -> Result<PrivacyModel> {
    let (attribute, rest) = split_attribute(text, &["equal", "hierarchical"], sensitive)?;
    let Some((kind, t)) = rest.split_once(':') else {
        bail!("t-closeness `{text}`: expected [ATTRIBUTE:]equal:T or hierarchical:T");
    };
    let t: f64 = t.trim().parse().with_context(|| format!("t-closeness `{text}`: T is not a number"))?;
    Ok(match kind {
        "equal" => PrivacyModel::EqualDistanceTCloseness { attribute, t },
        "hierarchical" => PrivacyModel::HierarchicalDistanceTCloseness { attribute, t },
        _ => bail!("t-closeness `{text}`: the ground distance is `equal` or `hierarchical`"),
    })
}

/// Splits an optional leading attribute name off a model spec whose kind is one of `kinds`.
fn split_attribute(text: &str, kinds: &[&str], sensitive: &[String]) -> Result<(String, String)> {
    let first = text.split(':').next().unwrap_or_default();
    if kinds.contains(&first) {
        return match sensitive {
            [only] => Ok((only.clone(), text.to_owned())),
            [] => bail!("`{text}` needs a sensitive column (--sensitive)"),
            _ => bail!("`{text}`: there are several sensitive columns; write ATTRIBUTE:{text}"),
        };
    }
    let (attribute, rest) = text.split_once(':').unwrap_or((text, ""));
    if !sensitive.iter().any(|name| name == attribute) {
        bail!("`{text}`: column {attribute} is not a sensitive column");
    }
    Ok((attribute.to_owned(), rest.to_owned()))
}

/// Parses a metric name: `loss` (ARX's default), `entropy`, `entropy-monotonic`, `discernibility`,
/// `discernibility-monotonic`, `aecs` (average equivalence-class size) or `precision`.
pub(crate) fn parse_metric(text: &str) -> Result<Metric> {
    Ok(match text {
        "loss" => Metric::Loss,
        "entropy" => Metric::NonUniformEntropy { monotonic: false },
        "entropy-monotonic" => Metric::NonUniformEntropy { monotonic: true },
        "discernibility" => Metric::Discernibility { monotonic: false },
        "discernibility-monotonic" => Metric::Discernibility { monotonic: true },
        "aecs" => Metric::AverageClassSize,
        "precision" => Metric::Precision,
        _ => bail!(
            "metric `{text}`: expected loss, entropy, entropy-monotonic, discernibility, \
             discernibility-monotonic, aecs or precision"
        ),
    })
}

/// The name [`parse_metric`] reads back.
pub(crate) fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Loss => "loss",
        Metric::NonUniformEntropy { monotonic: false } => "entropy",
        Metric::NonUniformEntropy { monotonic: true } => "entropy-monotonic",
        Metric::Discernibility { monotonic: false } => "discernibility",
        Metric::Discernibility { monotonic: true } => "discernibility-monotonic",
        Metric::AverageClassSize => "aecs",
        Metric::Precision => "precision",
    }
}

/// The budget of the heuristic the exact search falls back to when the lattice is too large to enumerate.
pub(crate) const FALLBACK_CHECKS: usize = 100_000;

/// Parses a search strategy: `exact`, `flash`, `flash-practical` or `heuristic:N`.
pub(crate) fn parse_strategy(text: &str) -> Result<SearchStrategy> {
    Ok(match text {
        "exact" => SearchStrategy::ExactOrHeuristic { max_checks: FALLBACK_CHECKS },
        "flash" => SearchStrategy::Flash { practical_monotonicity: false },
        "flash-practical" => SearchStrategy::Flash { practical_monotonicity: true },
        _ => match text.strip_prefix("heuristic:").map(str::parse::<usize>) {
            Some(Ok(max_checks)) if max_checks > 0 => SearchStrategy::Heuristic { max_checks },
            _ => bail!("search `{text}`: expected exact, flash, flash-practical or heuristic:N (N > 0)"),
        },
    })
}

/// The strategy as the report names it.
pub(crate) fn strategy_name(strategy: SearchStrategy) -> String {
    match strategy {
        SearchStrategy::Exact => "exact".to_owned(),
        SearchStrategy::ExactOrHeuristic { max_checks } => {
            format!("exact (heuristic with {max_checks} checks if the lattice is too large)")
        }
        SearchStrategy::Flash { practical_monotonicity: false } => "flash".to_owned(),
        SearchStrategy::Flash { practical_monotonicity: true } => {
            "flash, assuming practical monotonicity".to_owned()
        }
        SearchStrategy::Heuristic { max_checks } => format!("heuristic, at most {max_checks} checks"),
    }
}

/// A privacy model as a person reads it.
pub(crate) fn describe_model(model: &PrivacyModel) -> String {
    match model {
        PrivacyModel::KAnonymity { k } => format!("{k}-anonymity"),
        PrivacyModel::DistinctLDiversity { attribute, l } => format!("distinct-{l}-diversity of {attribute}"),
        PrivacyModel::EntropyLDiversity { attribute, l } => format!("entropy-{l}-diversity of {attribute}"),
        PrivacyModel::RecursiveCLDiversity { attribute, c, l } => {
            format!("recursive-({c},{l})-diversity of {attribute}")
        }
        PrivacyModel::EqualDistanceTCloseness { attribute, t } => {
            format!("{t}-closeness of {attribute} (equal distance)")
        }
        PrivacyModel::HierarchicalDistanceTCloseness { attribute, t } => {
            format!("{t}-closeness of {attribute} (hierarchical distance)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_specs() {
        let base = Path::new("/cfg");
        assert_eq!(
            HierarchySpec::parse("intervals:0:120:5,10:90", base).unwrap(),
            HierarchySpec::Intervals { min: 0, max: 120, widths: vec![5, 10], top_code: Some(90) }
        );
        assert_eq!(HierarchySpec::parse("mask", base).unwrap(), HierarchySpec::Mask('*'));
        assert_eq!(HierarchySpec::parse("mask:#", base).unwrap(), HierarchySpec::Mask('#'));
        assert_eq!(HierarchySpec::parse("prefix:3,1", base).unwrap(), HierarchySpec::Prefix(vec![3, 1]));
        assert_eq!(HierarchySpec::parse("date", base).unwrap(), HierarchySpec::Date);
        assert_eq!(
            HierarchySpec::parse("h/age.csv", base).unwrap(),
            HierarchySpec::File(PathBuf::from("/cfg/h/age.csv"))
        );
        assert!(HierarchySpec::parse("intervals:0:x:5", base).is_err());
        assert!(HierarchySpec::parse("prefix:a", base).is_err());
    }

    #[test]
    fn models_and_metrics() {
        let one = vec!["occupation".to_owned()];
        assert_eq!(
            parse_l_diversity("entropy:5", &one).unwrap(),
            PrivacyModel::EntropyLDiversity { attribute: "occupation".into(), l: 5.0 }
        );
        assert_eq!(
            parse_l_diversity("occupation:recursive:3:4", &one).unwrap(),
            PrivacyModel::RecursiveCLDiversity { attribute: "occupation".into(), c: 3.0, l: 4 }
        );
        assert!(parse_l_diversity("distinct:2.5", &one).is_err());
        assert!(parse_l_diversity("salary:distinct:2", &one).is_err(), "not a sensitive column");
        assert!(parse_l_diversity("distinct:2", &[]).is_err(), "no sensitive column");
        assert_eq!(
            parse_t_closeness("hierarchical:0.2", &one).unwrap(),
            PrivacyModel::HierarchicalDistanceTCloseness { attribute: "occupation".into(), t: 0.2 }
        );
        assert!(parse_t_closeness("manhattan:0.2", &one).is_err());
        for name in [
            "loss",
            "entropy",
            "entropy-monotonic",
            "discernibility",
            "discernibility-monotonic",
            "aecs",
            "precision",
        ] {
            assert_eq!(metric_name(parse_metric(name).unwrap()), name);
        }
        assert!(parse_metric("utility").is_err());
        assert_eq!(
            parse_strategy("flash-practical").unwrap(),
            SearchStrategy::Flash { practical_monotonicity: true }
        );
        assert_eq!(parse_strategy("heuristic:500").unwrap(), SearchStrategy::Heuristic { max_checks: 500 });
        assert!(parse_strategy("heuristic:0").is_err() && parse_strategy("greedy").is_err());
    }
}
