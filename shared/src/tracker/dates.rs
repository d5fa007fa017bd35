//! Calendar days and instants as the tracker takes them: dates are `YYYY-MM-DD`; instants are
//! RFC 3339 with the offset of the place the user was, and an entry belongs to the calendar day
//! of that local time. "Today" for a user is the date in their profile's IANA time zone.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::http::FieldError;

/// The longest range one list call may ask for (a leap year and a day).
pub const MAX_RANGE_DAYS: i64 = 366;
/// Dates before this are refused (not a medical history tool for the 19th century).
const FIRST_YEAR: i16 = 1900;
const LAST_YEAR: i16 = 2100;

/// A `YYYY-MM-DD` day within the supported years.
pub fn parse_date(field: &str, raw: &str) -> Result<Date, FieldError> {
    let invalid = || FieldError::new(field, "must be a date as YYYY-MM-DD");
    if raw.len() != 10 {
        return Err(invalid());
    }
    let date: Date = raw.parse().map_err(|_| invalid())?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        return Err(FieldError::new(
            field,
            format!("must be between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31"),
        ));
    }
    Ok(date)
}

/// An instant with its local calendar day and time of day (`HH:MM`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalInstant {
    pub timestamp: Timestamp,
    pub date: Date,
    pub time_of_day: String,
}

/// An RFC 3339 instant with an explicit offset (`Z` or `±HH:MM`), at most a day in the future.
pub fn parse_instant(field: &str, raw: &str, now: Timestamp) -> Result<LocalInstant, FieldError> {
    let invalid = || {
        FieldError::new(
            field,
            "must be an RFC 3339 date-time with an offset, e.g. 2026-03-29T08:00:00+02:00",
        )
    };
    if raw.len() > 40 || raw.len() < 20 || !raw.is_char_boundary(16) {
        return Err(invalid());
    }
    if !is_rfc3339(raw) {
        return Err(invalid());
    }
    let timestamp: Timestamp = raw.parse().map_err(|_| invalid())?;
    // RFC 3339 starts with the local date and time; the offset after them says where that was.
    let date = parse_date(field, &raw[..10]).map_err(|_| invalid())?;
    let time_of_day = raw[11..16].to_owned();
    if timestamp
        > now
            .checked_add(SignedDuration::from_hours(24))
            .unwrap_or(now)
    {
        return Err(FieldError::new(
            field,
            "must not be more than a day in the future",
        ));
    }
    Ok(LocalInstant {
        timestamp,
        date,
        time_of_day,
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` exactly, with an offset real places use (up to
/// ±14:00): the parser alone also takes lowercase letters, spaces, bracketed zones, `±HHMM` and
/// offsets up to 25 hours, and stored instants are kept as sent.
fn is_rfc3339(raw: &str) -> bool {
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let two = |at: usize| raw.get(at..at + 2).and_then(|s| s.parse::<u8>().ok());
    let head = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && two(17).is_some_and(|s| s < 60);
    if !head {
        return false;
    }
    let mut rest = &raw[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 || end > 9 {
            return false;
        }
        rest = &fraction[end..];
    }
    match rest.as_bytes() {
        [b'Z'] => true,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) =>
        {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            minutes < 60
                && (hours < 14 || (hours == 14 && minutes == 0))
                && (*sign == b'+' || hours <= 12)
        }
        _ => false,
    }
}

/// The latest day an entry may be for: the date a day from now in the easternmost time zone
/// (UTC+14), as instants may be at most a day in the future.
pub fn latest_day(now: Timestamp) -> Date {
    let easternmost = TimeZone::fixed(jiff::tz::Offset::constant(14));
    now.checked_add(SignedDuration::from_hours(24))
        .unwrap_or(now)
        .to_zoned(easternmost)
        .date()
}

/// An inclusive range of days, at most [`MAX_RANGE_DAYS`] long, `to` not before `from`.
pub fn parse_range(from: &str, to: &str) -> Result<(Date, Date), Vec<FieldError>> {
    let (from, to) = match (parse_date("query.from", from), parse_date("query.to", to)) {
        (Ok(from), Ok(to)) => (from, to),
        (a, b) => return Err([a.err(), b.err()].into_iter().flatten().collect()),
    };
    if to < from {
        return Err(vec![FieldError::new("query.to", "must not be before from")]);
    }
    let days = from
        .until(to)
        .map(|span| span.get_days())
        .unwrap_or(i32::MAX);
    if i64::from(days) >= MAX_RANGE_DAYS {
        return Err(vec![FieldError::new(
            "query.to",
            format!("a range covers at most {MAX_RANGE_DAYS} days"),
        )]);
    }
    Ok((from, to))
}

/// An IANA time zone name known to the bundled database (`UTC`, `Europe/Berlin` …).
pub fn parse_time_zone(field: &str, raw: &str) -> Result<TimeZone, FieldError> {
    if raw.is_empty() || raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(field, "must be an IANA time zone name"));
    }
    TimeZone::get(raw)
        .map_err(|_| FieldError::new(field, "must be an IANA time zone name, e.g. Europe/Berlin"))
}

/// The calendar day at `now` in `tz`.
pub fn today_in(tz: &TimeZone, now: Timestamp) -> Date {
    now.to_zoned(tz.clone()).date()
}

/// The day before `date` (calendar arithmetic: 23- and 25-hour days are still one day).
pub fn day_before(date: Date) -> Date {
    date.yesterday().unwrap_or(date)
}

pub fn day_after(date: Date) -> Date {
    date.tomorrow().unwrap_or(date)
}

/// Days from `from` to `to`, both included.
pub fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    let mut next = Some(from);
    std::iter::from_fn(move || {
        let day = next.filter(|d| *d <= to)?;
        next = day.tomorrow().ok();
        Some(day)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("d", "2026-03-29").is_ok());
        for bad in [
            "2026-3-29",
            "2026-02-30",
            "29.03.2026",
            "1899-12-31",
            "2101-01-01",
            "",
            "2026-03-29x",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants_keep_their_local_day() {
        let now = ts("2026-03-30T00:00:00Z");
        assert!(parse_instant("t", "2026-03-29T08:00:00.123+14:00", now).is_ok());
        assert!(parse_instant("t", "2026-03-29T08:00:00-12:00", now).is_ok());
        let late = parse_instant("t", "2026-03-29T23:30:00-05:00", now).unwrap();
        assert_eq!(late.date.to_string(), "2026-03-29");
        assert_eq!(late.time_of_day, "23:30");
        assert_eq!(late.timestamp, ts("2026-03-30T04:30:00Z"));
        for bad in [
            "2026-03-29T08:00:00",
            "2026-03-29",
            "tomorrow",
            "2026-03-29T08:00:00+25:00",
            "2026-03-29T08:00:00+14:30",
            "2026-03-29T08:00:00-13:00",
            "2026-03-29T08:05:00-1500",
            "2026-03-29t08:00:00z",
            "2026-03-29 08:00:00Z",
            "2026-03-29T08:00:00+01:00[Europe/Berlin]",
            "2026-03-29T08:00:60Z",
            "2026-03-29T08:00:00.Z",
        ] {
            assert!(parse_instant("t", bad, now).is_err(), "{bad}");
        }
        assert!(
            parse_instant("t", "2026-04-02T00:00:00Z", now).is_err(),
            "future"
        );
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        assert!(parse_range("2026-01-01", "2026-12-31").is_ok());
        assert!(parse_range("2024-01-01", "2024-12-31").is_ok(), "leap year");
        assert!(parse_range("2026-01-01", "2027-01-01").is_ok(), "366 days");
        assert!(parse_range("2026-01-01", "2027-01-02").is_err());
        assert!(parse_range("2026-02-01", "2026-01-31").is_err());
        assert_eq!(parse_range("x", "y").unwrap_err().len(), 2);
    }

    #[test]
    fn today_follows_the_users_zone_across_dst() {
        let berlin = parse_time_zone("tz", "Europe/Berlin").unwrap();
        // 00:30 on the morning clocks went forward (UTC+1 → UTC+2 at 02:00).
        assert_eq!(
            today_in(&berlin, ts("2026-03-28T23:30:00Z")).to_string(),
            "2026-03-29"
        );
        // 00:30 the day after: now − 24 h would still be the 29th, the day before is the 29th.
        let now = ts("2026-03-29T22:30:00Z");
        let today = today_in(&berlin, now);
        assert_eq!(today.to_string(), "2026-03-30");
        assert_eq!(day_before(today).to_string(), "2026-03-29");
        assert!(parse_time_zone("tz", "Mars/Olympus").is_err());
        assert_eq!(
            latest_day(ts("2026-03-29T22:30:00Z")).to_string(),
            "2026-03-31"
        );
        assert!(parse_time_zone("tz", "../../etc/passwd").is_err());
    }
}
