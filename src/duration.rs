//! Durations as the language writes them (`500ms`, `2s`, `1m`, `1h`, `1d`),
//! in one place: the syntax layer and `wanc probe --timeout` read them with
//! `parse`, diagnostics and generated comments write them with `format`, so
//! what wanc prints can always be written back.

/// Milliseconds per unit.
const UNITS: [(&str, u64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Why a text is not a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Not digits followed by one of the units.
    Form,
    /// More milliseconds than a u64 holds.
    TooLong,
}

/// Digits and a unit, in milliseconds.
pub fn parse(text: &str) -> Result<u64, DurationError> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let scale = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, s)| *s).ok_or(DurationError::Form)?;
    if digits.is_empty() {
        return Err(DurationError::Form);
    }
    // All digits: a parse failure can only be overflow.
    digits.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)).ok_or(DurationError::TooLong)
}

/// Whole seconds when it is some, otherwise milliseconds: `90s`, `250ms`.
/// Never minutes or hours, so that durations printed side by side (`3 × 1s
/// ≥ every 60s`, ifstated intervals) compare at a glance.
pub fn format(ms: u64) -> String {
    if ms % 1_000 == 0 && ms > 0 {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("2s"), Ok(2_000));
        assert_eq!(parse("1m"), Ok(60_000));
        assert_eq!(parse("1h"), Ok(3_600_000));
        assert_eq!(parse("1d"), Ok(86_400_000));
        assert_eq!(parse("2"), Err(DurationError::Form));
        assert_eq!(parse("s"), Err(DurationError::Form));
        assert_eq!(parse("2 s"), Err(DurationError::Form));
        assert_eq!(parse("99999999999999999999s"), Err(DurationError::TooLong));
    }

    #[test]
    fn formats_in_seconds_or_milliseconds() {
        assert_eq!(format(250), "250ms");
        assert_eq!(format(90_000), "90s");
        assert_eq!(format(7_200_000), "7200s");
        assert_eq!(format(0), "0ms");
        for ms in [1, 999, 1_000, 61_000, 3_600_000, 86_400_000, 90_061_001] {
            assert_eq!(parse(&format(ms)), Ok(ms));
        }
    }
}
