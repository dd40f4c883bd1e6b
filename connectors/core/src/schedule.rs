//! When a service is ingested: a cron pattern read in a time zone.
//!
//! Patterns have five fields (minute, hour, day of month, month, day of week) or are a
//! preset (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`); seconds are refused,
//! since a catalog pull is not a sub-minute job. The zone is an IANA name (`Europe/Moscow`),
//! UTC by default, so `0 3 * * *` means 03:00 where the warehouse's nightly loads finish,
//! also across daylight-saving changes.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "`{pattern}` is not a schedule: {reason}; write five fields (minute hour day-of-month \
         month day-of-week, e.g. `0 3 * * *`) or a preset such as `@daily`"
    )]
    Pattern { pattern: String, reason: String },
    #[error("`{0}` is not a time zone; use an IANA name such as `UTC` or `Europe/Moscow`")]
    Zone(String),
}

/// A cron pattern in a time zone.
#[derive(Clone)]
pub struct Schedule {
    cron: Cron,
    pattern: String,
    zone: Tz,
}

impl Schedule {
    /// Reads `pattern` in `zone` (UTC when `None`).
    pub fn parse(pattern: &str, zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let pattern = pattern.trim();
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => {
                Tz::from_str(name.trim()).map_err(|_| ScheduleError::Zone(name.into()))?
            }
        };
        let refuse = |reason: String| ScheduleError::Pattern {
            pattern: pattern.to_owned(),
            reason,
        };
        if !pattern.starts_with('@') && pattern.split_whitespace().count() != 5 {
            return Err(refuse(format!(
                "it has {} fields",
                pattern.split_whitespace().count()
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(pattern)
            .map_err(|err| refuse(err.to_string()))?;
        Ok(Schedule {
            cron,
            pattern: pattern.to_owned(),
            zone,
        })
    }

    /// The first time strictly after `after` the schedule fires; `None` when it never does
    /// again (a pattern such as `0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|next| next.with_timezone(&Utc))
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn zone(&self) -> &str {
        self.zone.name()
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?} in {})", self.pattern, self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn five_fields_in_utc_by_default() {
        let s = Schedule::parse("*/15 * * * *", None).unwrap();
        assert_eq!(s.zone(), "UTC");
        assert_eq!(
            s.next_after(utc(2026, 11, 22, 10, 7)),
            Some(utc(2026, 11, 22, 10, 15))
        );
        // Strictly after: a run at the fire time does not fire again at once.
        assert_eq!(
            s.next_after(utc(2026, 11, 22, 10, 15)),
            Some(utc(2026, 11, 22, 10, 30))
        );
    }

    #[test]
    fn presets() {
        let daily = Schedule::parse("@daily", None).unwrap();
        assert_eq!(
            daily.next_after(utc(2026, 11, 22, 10, 7)),
            Some(utc(2026, 11, 23, 0, 0))
        );
        let hourly = Schedule::parse("@hourly", None).unwrap();
        assert_eq!(
            hourly.next_after(utc(2026, 11, 22, 10, 7)),
            Some(utc(2026, 11, 22, 11, 0))
        );
        let weekly = Schedule::parse("@weekly", None).unwrap();
        // 2026-11-22 is a Sunday: the next Sunday midnight is a week on.
        assert_eq!(
            weekly.next_after(utc(2026, 11, 22, 10, 7)),
            Some(utc(2026, 11, 29, 0, 0))
        );
    }

    #[test]
    fn a_zone_moves_the_fire_time() {
        // 03:00 in Moscow (UTC+3, no daylight saving) is 00:00 UTC.
        let s = Schedule::parse("0 3 * * *", Some("Europe/Moscow")).unwrap();
        assert_eq!(
            s.next_after(utc(2026, 11, 22, 10, 0)),
            Some(utc(2026, 11, 23, 0, 0))
        );
    }

    #[test]
    fn daylight_saving_changes_keep_the_local_time() {
        // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer; clocks go forward
        // on 2026-03-29.
        let s = Schedule::parse("0 9 * * *", Some("Europe/Berlin")).unwrap();
        assert_eq!(
            s.next_after(utc(2026, 3, 28, 12, 0)),
            Some(utc(2026, 3, 29, 7, 0))
        );
        assert_eq!(
            s.next_after(utc(2026, 3, 27, 12, 0)),
            Some(utc(2026, 3, 28, 8, 0))
        );
        // 02:30 does not exist in Berlin on 2026-03-29: that day's run happens once, at the
        // first moment after the gap (03:00 CEST), as Vixie cron does; the next day's is at
        // 02:30 local again.
        let gap = Schedule::parse("30 2 * * *", Some("Europe/Berlin")).unwrap();
        let first = gap.next_after(utc(2026, 3, 28, 12, 0)).unwrap();
        assert_eq!(first, utc(2026, 3, 29, 1, 0));
        assert_eq!(gap.next_after(first), Some(utc(2026, 3, 30, 0, 30)));
        // 02:30 happens twice on 2026-10-25, when clocks go back: it runs once.
        let twice = gap.next_after(utc(2026, 10, 24, 12, 0)).unwrap();
        assert_eq!(twice, utc(2026, 10, 25, 0, 30));
        assert_eq!(gap.next_after(twice), Some(utc(2026, 10, 26, 1, 30)));
    }

    #[test]
    fn bad_patterns_and_zones_are_refused_with_a_way_out() {
        for pattern in [
            "",
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "@sometimes",
            "0 3 * * mon-",
        ] {
            let err = Schedule::parse(pattern, None).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("five fields"), "{pattern}: {text}");
        }
        let err = Schedule::parse("@daily", Some("Mars/Olympus")).unwrap_err();
        assert_eq!(err, ScheduleError::Zone("Mars/Olympus".into()));
        assert!(err.to_string().contains("IANA"));
    }

    #[test]
    fn a_pattern_that_never_fires_again_says_so() {
        let s = Schedule::parse("0 0 30 2 *", None).unwrap();
        assert_eq!(s.next_after(utc(2026, 1, 1, 0, 0)), None);
    }
}
