//! Conversions between domain values and their stored text/integer forms.

use chrono::{DateTime, Months, SecondsFormat, Utc};
use kiban_model::{NaiveDate, ProviderCode};

use crate::RETENTION_MONTHS;
use crate::db::Row;
use crate::error::StoreError;

/// A date as stored: ISO 8601 (`2024-04-01`).
pub(crate) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn parse_date(text: &str, table: &'static str, column: &'static str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| StoreError::Corrupt { table, column })
}

/// A timestamp as stored: RFC 3339 in UTC with nanoseconds, so text order is time order.
pub(crate) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_time(text: &str, table: &'static str, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt { table, column })
}

pub(crate) fn to_i64(value: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { what })
}

fn to_u64(value: i64, table: &'static str, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt { table, column })
}

/// The last day a record made on `on` must be kept (3 years, Rule 12 and Rule 35 via 38).
pub(crate) fn retain_until(on: NaiveDate) -> Result<NaiveDate, StoreError> {
    on.checked_add_months(Months::new(RETENTION_MONTHS))
        .ok_or(StoreError::OutOfRange { what: "retention date" })
}

fn parse_hash(text: &str, table: &'static str, column: &'static str) -> Result<[u8; 32], StoreError> {
    let bytes = hex::decode(text).map_err(|_| StoreError::Corrupt { table, column })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| StoreError::Corrupt { table, column })
}

/// Reading stored values as domain values: a value that does not convert is [`StoreError::Corrupt`],
/// naming the table and column.
impl Row {
    pub(crate) fn u64(&self, table: &'static str, column: &'static str) -> Result<u64, StoreError> {
        to_u64(self.i64(column)?, table, column)
    }

    pub(crate) fn date(&self, table: &'static str, column: &'static str) -> Result<NaiveDate, StoreError> {
        parse_date(&self.text(column)?, table, column)
    }

    pub(crate) fn opt_date(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<NaiveDate>, StoreError> {
        self.opt_text(column)?.map(|text| parse_date(&text, table, column)).transpose()
    }

    pub(crate) fn time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<DateTime<Utc>, StoreError> {
        parse_time(&self.text(column)?, table, column)
    }

    pub(crate) fn opt_time(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_text(column)?.map(|text| parse_time(&text, table, column)).transpose()
    }

    pub(crate) fn hash(&self, table: &'static str, column: &'static str) -> Result<[u8; 32], StoreError> {
        parse_hash(&self.text(column)?, table, column)
    }

    pub(crate) fn provider(
        &self,
        table: &'static str,
        column: &'static str,
    ) -> Result<ProviderCode, StoreError> {
        ProviderCode::new(&self.text(column)?).map_err(|_| StoreError::Corrupt { table, column })
    }
}
