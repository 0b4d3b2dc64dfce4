//! Instants as UTC microseconds since the Unix epoch: parsing and formatting.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Parses an RFC 3339 timestamp, or a bare `YYYY-MM-DD` date (midnight UTC). Also
/// accepted, as SQL engines export them: a space instead of `T`, and an offset written
/// `+HH` or `+HHMM`. A time without any offset is refused, not assumed UTC.
pub fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() == 10 {
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros());
    }
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc3339(&sql_to_rfc3339(s)))
        .ok()
        .map(|t| t.timestamp_micros())
}

/// `2024-01-15 12:00:00+00` → `2024-01-15 12:00:00+00:00` (likewise `+HHMM`).
fn sql_to_rfc3339(s: &str) -> String {
    let offset_digits = |n: usize| {
        let b = s.as_bytes();
        b.len() > n
            && matches!(b[b.len() - n - 1], b'+' | b'-')
            && b[b.len() - n..].iter().all(u8::is_ascii_digit)
    };
    if offset_digits(2) {
        format!("{s}:00")
    } else if offset_digits(4) {
        format!("{}:{}", &s[..s.len() - 2], &s[s.len() - 2..])
    } else {
        s.to_string()
    }
}

fn to_datetime(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// RFC 3339 in UTC with `Z`; fractional seconds only when present.
pub fn format_instant(micros: i64) -> String {
    let t = to_datetime(micros);
    if micros.rem_euclid(1_000_000) == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// Start of the UTC hour holding the instant, RFC 3339: `2025-12-03T10:00:00Z`.
pub fn format_hour(micros: i64) -> String {
    to_datetime(micros).format("%Y-%m-%dT%H:00:00Z").to_string()
}

/// `YYYY-MM-DD` of the UTC day holding the instant.
pub fn format_day(micros: i64) -> String {
    to_datetime(micros).format("%Y-%m-%d").to_string()
}

/// `YYYY-MM` of the UTC month holding the instant.
pub fn format_month(micros: i64) -> String {
    to_datetime(micros).format("%Y-%m").to_string()
}

/// Start of the UTC calendar month holding `t`.
pub fn month_start(t: i64) -> i64 {
    let d = chrono::DateTime::from_timestamp_micros(t)
        .unwrap_or_default()
        .date_naive();
    micros(d.year(), d.month())
}

/// Start of the UTC calendar month after the one holding `t`.
pub fn next_month_start(t: i64) -> i64 {
    let d = chrono::DateTime::from_timestamp_micros(t)
        .unwrap_or_default()
        .date_naive();
    match d.month() {
        12 => micros(d.year() + 1, 1),
        m => micros(d.year(), m + 1),
    }
}

/// Length of the UTC calendar month holding `t`, in microseconds.
pub fn month_length(t: i64) -> i64 {
    next_month_start(t) - month_start(t)
}

fn micros(year: i32, month: u32) -> i64 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_dates() {
        let a = parse_instant("2024-01-15T12:00:00Z").unwrap();
        let b = parse_instant("2024-01-15T13:00:00+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_instant("2024-01-15").unwrap() + 12 * 3_600_000_000, a);
        assert_eq!(parse_instant("2024-01-15 12:00:00+00"), Some(a));
        assert_eq!(parse_instant("2024-01-15 13:00:00.000+0100"), Some(a));
        assert_eq!(
            parse_instant("2024-01-15 12:00:00"),
            None,
            "no offset: not assumed UTC"
        );
        assert_eq!(parse_instant("2024-13-01"), None);
        assert_eq!(parse_instant("yesterday"), None);
    }

    #[test]
    fn formats_round_trip() {
        let t = parse_instant("2025-03-11T00:38:02.5Z").unwrap();
        assert_eq!(format_instant(t), "2025-03-11T00:38:02.500000Z");
        assert_eq!(format_day(t), "2025-03-11");
        assert_eq!(format_month(t), "2025-03");
        assert_eq!(
            format_instant(parse_instant("2025-03-11").unwrap()),
            "2025-03-11T00:00:00Z"
        );
    }
}
