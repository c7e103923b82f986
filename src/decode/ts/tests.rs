use super::*;

proptest::proptest! {
    /// The fast path reads exactly what chrono reads.
    #[test]
    fn rfc3339_fast_path_agrees_with_chrono(
        ms in -62_000_000_000_000i64..253_000_000_000_000i64,
        offset_minutes in -(23 * 60 + 59)..(23 * 60 + 59i32),
        fraction_digits in 0usize..10,
        zulu in proptest::bool::ANY,
    ) {
        let offset = if zulu { chrono::FixedOffset::east_opt(0) } else { chrono::FixedOffset::east_opt(offset_minutes * 60) };
        let Some(offset) = offset else { return Ok(()); };
        let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else { return Ok(()); };
        let local = t.with_timezone(&offset);
        let mut text = local.format("%Y-%m-%dT%H:%M:%S").to_string();
        if fraction_digits > 0 {
            let nanos = format!("{:09}", local.timestamp_subsec_nanos());
            text.push('.');
            text.push_str(&format!("{:0<width$}", &nanos[..fraction_digits.min(9)], width = fraction_digits));
        }
        text.push_str(&if zulu { "Z".to_string() } else { local.format("%:z").to_string() });
        let chrono = chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
        let fast = rfc3339_common(text.as_bytes());
        proptest::prop_assert!(fast.is_some(), "the usual shape takes the fast path: {}", text);
        proptest::prop_assert_eq!(fast, chrono, "{}", text);
    }

    /// On any text, the fast path either declines or agrees with chrono.
    #[test]
    fn rfc3339_fast_path_never_accepts_what_chrono_refuses(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,4})?(Z|[+-][0-9]{2}:[0-9]{2}|)") {
        if let Some(fast) = rfc3339_common(text.as_bytes()) {
            let chrono = chrono::DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis());
            proptest::prop_assert_eq!(Some(fast), chrono, "{}", text);
        }
    }
}
