//! Writing the JSON of an event: the id fields, and RFC 3339 timestamps
//! without a date library.

use std::fmt::Write;

use super::{DAY, HOUR};

pub(super) fn ticket_field(out: &mut String, id: u64) {
    put!(out, r#","ticket_id":"T{id}""#);
}

pub(super) fn agent_field(out: &mut String, agent: u16) {
    put!(out, r#","agent_id":"agent-{agent:03}""#);
}

pub(super) fn customer_field(out: &mut String, customer: u32) {
    put!(out, r#","customer_id":"cust-{customer:05}""#);
}

/// Writes `"YYYY-MM-DDTHH:MM:SS.mmm"` and `Z` or `+HH:00`, in the local
/// time of that offset, without going through a date library.
pub(super) fn write_rfc3339(out: &mut String, utc_ms: i64, offset_hours: i64) {
    let ms = utc_ms + offset_hours * HOUR;
    let (days, ms_of_day) = (ms.div_euclid(DAY), ms.rem_euclid(DAY));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    put!(
        out,
        r#""{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}"#,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    );
    if offset_hours == 0 {
        out.push_str("Z\"");
    } else {
        put!(out, "+{offset_hours:02}:00\"");
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    (year, month, day)
}
