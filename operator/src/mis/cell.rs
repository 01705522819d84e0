//! Turning one cell's text into a catalogue value: dates, sex, booleans, lists, year
//! groups and record status.
//!
//! Each function says what it accepted beyond the standard, so the caller can warn, and
//! never includes the cell's text in what it returns on failure.

use chrono::NaiveDate;
use serde::Serialize;

/// How to read a date written with slashes, such as `1/05/2023`.
///
/// Without a date order such a date is read only when it can mean one day (a part above
/// 12, or day and month equal); otherwise the read fails rather than guess.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DateOrder {
    /// `dd/mm/yyyy`, as UK systems write.
    DayFirst,
    /// `mm/dd/yyyy`, as US systems write.
    MonthFirst,
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CellProblem {
    /// The cell is not the kind of value the column needs; says what it should be.
    Not(&'static str),
    /// A slashed date whose day and month could be either way round.
    AmbiguousDate,
}

/// What a date cell read as, and how, when it was not `YYYY-MM-DD`.
pub(crate) type DateRead = (String, Option<&'static str>);

const ISO_DATE: &str = "a date (expected YYYY-MM-DD)";

/// Reads a date: `YYYY-MM-DD`, an ISO date-time (its date kept), or a slashed date
/// `d/m/yyyy` read by `order` or, without one, only when unambiguous.
pub(crate) fn date(text: &str, order: Option<DateOrder>) -> Result<DateRead, CellProblem> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok((day.format("%Y-%m-%d").to_string(), None));
    }
    if let Some((day_part, _time)) = text.split_once('T')
        && let Ok(day) = NaiveDate::parse_from_str(day_part, "%Y-%m-%d")
    {
        return Ok((
            day.format("%Y-%m-%d").to_string(),
            Some("date-time read as its date"),
        ));
    }

    let parts: Vec<&str> = text.split('/').map(str::trim).collect();
    let [first, second, year] = parts.as_slice() else {
        return Err(CellProblem::Not(ISO_DATE));
    };
    let number = |s: &str| s.parse::<u32>().ok().filter(|_| (1..=2).contains(&s.len()));
    let (Some(first), Some(second)) = (number(first), number(second)) else {
        return Err(CellProblem::Not(ISO_DATE));
    };
    let Some(year) = year.parse::<i32>().ok().filter(|_| year.len() == 4) else {
        return Err(CellProblem::Not(ISO_DATE));
    };

    let (day, month, how) = match order {
        Some(DateOrder::DayFirst) => (first, second, "slashed date read day-first as configured"),
        Some(DateOrder::MonthFirst) => {
            (second, first, "slashed date read month-first as configured")
        }
        None if first == second => (first, second, "slashed date read (day equals month)"),
        None if first > 12 => (first, second, "slashed date read day-first (day above 12)"),
        None if second > 12 => (
            second,
            first,
            "slashed date read month-first (day above 12)",
        ),
        None => return Err(CellProblem::AmbiguousDate),
    };
    let day = NaiveDate::from_ymd_opt(year, month, day).ok_or(CellProblem::Not(ISO_DATE))?;
    Ok((day.format("%Y-%m-%d").to_string(), Some(how)))
}

/// Reads sex as OneRoster words; single letters are accepted with a note.
pub(crate) fn sex(text: &str) -> Result<(&'static str, Option<&'static str>), CellProblem> {
    let word = match text.to_ascii_lowercase().as_str() {
        "male" => return Ok(("male", None)),
        "female" => return Ok(("female", None)),
        "other" => return Ok(("other", None)),
        "unspecified" => return Ok(("unspecified", None)),
        "m" => "male",
        "f" => "female",
        "o" | "x" => "other",
        "u" => "unspecified",
        _ => return Err(CellProblem::Not("one of male, female, other, unspecified")),
    };
    Ok((
        word,
        Some("single-letter sex code read as the OneRoster word"),
    ))
}

/// Reads `true` or `false` in any letter case.
pub(crate) fn boolean(text: &str) -> Result<bool, CellProblem> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(CellProblem::Not("true or false")),
    }
}

/// Splits a comma-separated list cell, dropping blank entries.
pub(crate) fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The year group from a `grades` cell: its first value, `09` written as `9`.
pub(crate) fn year_group(grades: &str) -> Option<String> {
    let first = list(grades).into_iter().next()?;
    if first.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = first.trim_start_matches('0');
        return Some(if trimmed.is_empty() { "0" } else { trimmed }.to_owned());
    }
    Some(first)
}

/// A row's status; a blank cell means active.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// In use.
    Active,
    /// Kept but not in use (OneRoster 1.1).
    Inactive,
    /// Marked for deletion.
    ToBeDeleted,
}

impl Status {
    /// Reads a status cell.
    pub(crate) fn read(text: Option<&str>) -> Result<Status, CellProblem> {
        match text.map(str::to_ascii_lowercase).as_deref() {
            None | Some("active") => Ok(Status::Active),
            Some("inactive") => Ok(Status::Inactive),
            Some("tobedeleted") => Ok(Status::ToBeDeleted),
            Some(_) => Err(CellProblem::Not(
                "one of active, inactive, tobedeleted (blank means active)",
            )),
        }
    }

    /// The word a record carries.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::ToBeDeleted => "tobedeleted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unambiguous_slashed_dates_are_read() {
        assert_eq!(date("15/06/2023", None).unwrap().0, "2023-06-15");
        assert_eq!(date("6/15/2023", None).unwrap().0, "2023-06-15");
        assert_eq!(date("5/5/2023", None).unwrap().0, "2023-05-05");
    }

    #[test]
    fn ambiguous_slashed_date_needs_an_order() {
        assert_eq!(date("1/05/2023", None), Err(CellProblem::AmbiguousDate));
        assert_eq!(
            date("1/05/2023", Some(DateOrder::DayFirst)).unwrap().0,
            "2023-05-01"
        );
        assert_eq!(
            date("1/05/2023", Some(DateOrder::MonthFirst)).unwrap().0,
            "2023-01-05"
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        for text in [
            "2023-02-30",
            "31/02/2023",
            "1/5/23",
            "yesterday",
            "13/13/2023",
        ] {
            assert!(date(text, None).is_err(), "{text}");
        }
    }

    #[test]
    fn year_group_drops_leading_zeros() {
        assert_eq!(year_group("09,10").as_deref(), Some("9"));
        assert_eq!(year_group("R").as_deref(), Some("R"));
        assert_eq!(year_group(" ").as_deref(), None);
    }
}
