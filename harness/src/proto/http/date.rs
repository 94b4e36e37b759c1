//! HTTP dates (RFC 1945 §3.3, RFC 2616 §3.3.1): the three forms a reader accepts, which
//! one a value is in, and its zone.
//!
//! Rules: H-DATE-1 (an origin server sends Date; checked in `response`), H-DATE-2
//! (generated dates use the rfc1123 form), H-DATE-3 (dates are in GMT).

use crate::rules;
use std::sync::LazyLock;

use regex::Regex;

use super::Judge;

/// The three forms of RFC 1945 §3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateForm {
    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 822, updated by RFC 1123): the one to send.
    Rfc1123,
    /// `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850, obsolete).
    Rfc850,
    /// `Sun Nov  6 08:49:37 1994` (ANSI C's asctime()).
    Asctime,
}

impl DateForm {
    /// The form's name as the RFC gives it.
    pub fn name(self) -> &'static str {
        match self {
            DateForm::Rfc1123 => "rfc1123",
            DateForm::Rfc850 => "rfc850",
            DateForm::Asctime => "asctime",
        }
    }
}

/// A parsed HTTP date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpDate {
    /// Which form it is in.
    pub form: DateForm,
    /// The zone as written (`GMT` for asctime, which has none).
    pub zone: String,
    /// Year (four digits; two for rfc850), month 1–12, day, hour, minute, second.
    pub fields: [u32; 6],
    /// The weekday as written, 0 = Sunday.
    pub weekday: u32,
}

const WKDAY: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const WEEKDAY: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTH: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

static RFC1123: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) (\S+)$")
        .unwrap_or_else(|e| unreachable!("{e}"))
});
static RFC850: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-([A-Z][a-z]{2})-(\d\d) (\d\d):(\d\d):(\d\d) (\S+)$",
    )
    .unwrap_or_else(|e| unreachable!("{e}"))
});
static ASCTIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ( \d|\d\d) (\d\d):(\d\d):(\d\d) (\d{4})$")
        .unwrap_or_else(|e| unreachable!("{e}"))
});

/// Parses `value` in any of the three forms; `None` when it is none of them.
pub fn parse(value: &str) -> Option<HttpDate> {
    let num = |s: &str| s.trim().parse::<u32>().ok();
    let month = |s: &str| MONTH.iter().position(|m| *m == s).map(|i| i as u32 + 1);
    let wk = |names: &[&str; 7], s: &str| names.iter().position(|n| *n == s).map(|i| i as u32);
    // rfc1123 and rfc850 share their groups: weekday, day, month, year, h, m, s, zone.
    let dated = |c: regex::Captures<'_>, form: DateForm, names: &[&str; 7]| -> Option<HttpDate> {
        Some(HttpDate {
            form,
            zone: c[8].to_string(),
            fields: [
                num(&c[4])?,
                month(&c[3])?,
                num(&c[2])?,
                num(&c[5])?,
                num(&c[6])?,
                num(&c[7])?,
            ],
            weekday: wk(names, &c[1])?,
        })
    };
    if let Some(c) = RFC1123.captures(value) {
        return dated(c, DateForm::Rfc1123, &WKDAY);
    }
    if let Some(c) = RFC850.captures(value) {
        return dated(c, DateForm::Rfc850, &WEEKDAY);
    }
    if let Some(c) = ASCTIME.captures(value) {
        return Some(HttpDate {
            form: DateForm::Asctime,
            zone: "GMT".to_string(),
            fields: [
                num(&c[7])?,
                month(&c[2])?,
                num(&c[3])?,
                num(&c[4])?,
                num(&c[5])?,
                num(&c[6])?,
            ],
            weekday: wk(&WKDAY, &c[1])?,
        });
    }
    None
}

impl HttpDate {
    /// Whether the fields name a real moment (leap seconds allowed).
    pub fn is_valid(&self) -> bool {
        let [y, m, d, h, mi, s] = self.fields;
        d >= 1 && d <= days_in_month(y, m) && h < 24 && mi < 60 && s <= 60
    }

    /// The weekday of the date (0 = Sunday), when the year is known in full.
    pub fn true_weekday(&self) -> Option<u32> {
        if self.form == DateForm::Rfc850 {
            return None;
        }
        let [y, m, d, ..] = self.fields;
        Some(weekday(y, m, d))
    }
}

fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Day of the week, 0 = Sunday (days since 1970-01-01, a Thursday).
fn weekday(y: u32, m: u32, d: u32) -> u32 {
    // Howard Hinnant's days_from_civil.
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days + 4).rem_euclid(7) as u32
}

/// Checks the date in field `name` with value `value` (field bytes `raw`).
pub fn check(name: &str, value: &str, raw: &[u8], judge: &mut Judge<'_>) {
    const FORM: &str = "`Sun, 06 Nov 1994 08:49:37 GMT`";
    let Some(date) = parse(value) else {
        judge.flag(
            rules::H_DATE_2,
            format!("`{name}: {value}` is not an HTTP date: generate it in the rfc1123 form {FORM}"),
            raw,
        );
        return;
    };
    if date.form != DateForm::Rfc1123 {
        judge.flag(
            rules::H_DATE_2,
            format!(
                "`{name}` is in the obsolete {} form: generate dates in the rfc1123 form {FORM}",
                date.form.name()
            ),
            raw,
        );
    }
    if date.zone != "GMT" {
        judge.flag(
            rules::H_DATE_3,
            format!(
                "`{name}` is in zone `{}`: HTTP dates are always GMT, written `GMT`",
                date.zone
            ),
            raw,
        );
    }
    if !date.is_valid() {
        judge.flag(
            rules::H_DATE_2,
            format!("`{name}: {value}` names no real date or time"),
            raw,
        );
    } else if let Some(true_day) = date.true_weekday() {
        if true_day != date.weekday {
            judge.flag(
                rules::H_DATE_2,
                format!(
                    "`{name}` says {}, but that date is a {}",
                    WKDAY[date.weekday as usize], WKDAY[true_day as usize]
                ),
                raw,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::rules::Profile;
    use rstest::rstest;

    #[rstest]
    #[case("Sun, 06 Nov 1994 08:49:37 GMT", DateForm::Rfc1123)]
    #[case("Sunday, 06-Nov-94 08:49:37 GMT", DateForm::Rfc850)]
    #[case("Sun Nov  6 08:49:37 1994", DateForm::Asctime)]
    #[case("Sun Nov 16 08:49:37 1994", DateForm::Asctime)]
    fn the_three_forms_of_rfc_1945_are_read(#[case] value: &str, #[case] form: DateForm) {
        let d = parse(value).unwrap();
        assert_eq!(d.form, form);
        assert!(d.is_valid());
    }

    fn rules(value: &str) -> Vec<&'static str> {
        let mut out: Vec<Finding> = Vec::new();
        check(
            "Date",
            value,
            value.as_bytes(),
            &mut Judge::new(Profile::Http10, &mut out),
        );
        out.iter().map(|f| f.rule.as_str()).collect()
    }

    #[rstest]
    #[case::rfc1123("Sun, 06 Nov 1994 08:49:37 GMT", &[])]
    #[case::rfc850_is_h_date_2("Sunday, 06-Nov-94 08:49:37 GMT", &["H-DATE-2"])]
    #[case::asctime_is_h_date_2("Sun Nov  6 08:49:37 1994", &["H-DATE-2"])]
    #[case::single_digit_day_is_h_date_2("Sun, 6 Nov 1994 08:49:37 GMT", &["H-DATE-2"])]
    #[case::garbage_is_h_date_2("yesterday", &["H-DATE-2"])]
    #[case::utc_is_h_date_3("Sun, 06 Nov 1994 08:49:37 UTC", &["H-DATE-3"])]
    #[case::offset_is_h_date_3("Sun, 06 Nov 1994 08:49:37 +0000", &["H-DATE-3"])]
    #[case::wrong_weekday_is_h_date_2("Mon, 06 Nov 1994 08:49:37 GMT", &["H-DATE-2"])]
    #[case::no_such_day_is_h_date_2("Thu, 31 Feb 1994 08:49:37 GMT", &["H-DATE-2"])]
    fn dates_are_judged_by_form_and_zone(#[case] value: &str, #[case] want: &[&str]) {
        assert_eq!(rules(value), want);
    }

    #[test]
    fn weekdays_are_computed_from_the_calendar() {
        assert_eq!(weekday(1994, 11, 6), 0);
        assert_eq!(weekday(1970, 1, 1), 4);
        assert_eq!(weekday(2000, 2, 29), 2);
    }
}
