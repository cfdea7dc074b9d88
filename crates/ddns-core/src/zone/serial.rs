//! SOA serials: BIND's date rule and RFC 1982 serial arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year, such as 2026.
    pub year: u32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl Date {
    /// The UTC date of `time` (the epoch for times before it).
    pub fn of(time: SystemTime) -> Self {
        let seconds = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_days(seconds / 86_400)
    }

    /// The date `days` days after 1970-01-01 (the civil-from-days
    /// algorithm of the proleptic Gregorian calendar).
    fn from_days(days: u64) -> Self {
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        Self {
            year: u32::try_from(year).unwrap_or(u32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    /// `YYYYMMDD00`, saturating past the year 4294.
    pub fn serial(self) -> u32 {
        let value = u64::from(self.year) * 1_000_000
            + u64::from(self.month) * 10_000
            + u64::from(self.day) * 100;
        u32::try_from(value).unwrap_or(u32::MAX)
    }
}

/// Whether serial `a` is greater than `b` in RFC 1982 arithmetic (32 bits).
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < (1 << 31)
}

/// The serial after `previous` on `today`: `YYYYMMDD00` when that is
/// greater than `previous` (RFC 1982), else `previous + 1` (wrapping), the
/// rule of BIND's `serial-update-method date`. Without a previous serial,
/// `YYYYMMDD00`.
pub fn next_serial(previous: Option<u32>, today: Date) -> u32 {
    let dated = today.serial();
    match previous {
        None => dated,
        Some(previous) if serial_gt(dated, previous) => dated,
        Some(previous) => previous.wrapping_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn date(year: u32, month: u32, day: u32) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(Date::of(UNIX_EPOCH), date(1970, 1, 1));
        // 2026-11-28T05:56:08Z
        assert_eq!(
            Date::of(UNIX_EPOCH + Duration::from_secs(1_795_845_368)),
            date(2026, 11, 28)
        );
        // 2024-02-29 (leap day) and the day after.
        assert_eq!(
            Date::of(UNIX_EPOCH + Duration::from_secs(1_709_164_800)),
            date(2024, 2, 29)
        );
        assert_eq!(
            Date::of(UNIX_EPOCH + Duration::from_secs(1_709_251_200)),
            date(2024, 3, 1)
        );
        assert_eq!(date(2026, 11, 28).serial(), 2_026_112_800);
    }

    #[test]
    fn the_date_rule() {
        let today = date(2026, 11, 28);
        assert_eq!(next_serial(None, today), 2_026_112_800);
        assert_eq!(next_serial(Some(2_026_112_700), today), 2_026_112_800);
        assert_eq!(next_serial(Some(2_026_112_800), today), 2_026_112_801);
        assert_eq!(next_serial(Some(2_026_112_899), today), 2_026_112_900);
        // A serial far "ahead" (an old counter) keeps counting.
        assert_eq!(next_serial(Some(3_000_000_000), today), 3_000_000_001);
        // Small counters from other tools are below the date: jump to it.
        assert_eq!(next_serial(Some(7), today), 2_026_112_800);
        // Wrapping: u32::MAX + 1 is 0, and the date is "greater" than MAX
        // only when within 2^31 ahead of it.
        assert_eq!(next_serial(Some(u32::MAX), today), 2_026_112_800);
        assert_eq!(next_serial(Some(u32::MAX), date(1970, 1, 1)), 1_970_010_100);
    }

    #[test]
    fn rfc1982_comparison() {
        assert!(serial_gt(1, 0));
        assert!(!serial_gt(0, 1));
        assert!(serial_gt(0, u32::MAX));
        assert!(!serial_gt(5, 5));
        assert!(
            !serial_gt(1 << 31, 0),
            "exactly half-way is undefined, so not greater"
        );
    }

    proptest! {
        #[test]
        fn the_next_serial_is_always_greater(previous in any::<u32>(), days in 0u64..200_000) {
            let today = Date::from_days(days);
            let next = next_serial(Some(previous), today);
            prop_assert!(serial_gt(next, previous));
        }

        #[test]
        fn dates_round_trip_through_the_serial(days in 0u64..(2_900 * 365)) {
            let d = Date::from_days(days);
            prop_assert!((1..=12).contains(&d.month));
            prop_assert!((1..=31).contains(&d.day));
            let next = Date::from_days(days + 1);
            prop_assert!(next > d);
        }
    }
}
