use crate::config::{Config, ConfigError};
use crate::decode::{Channel, Priority, TicketStatus};
use crate::engine::sla::policy::Kind;

/// The example of SPEC §4.1, whole.
const SPEC_EXAMPLE: &str = r#"
[sla]
at_risk = 0.8

[[sla.policy]]
name = "vip"
queues = ["vip"]
channels = ["phone"]
calendar = "office"
pause_on = ["pending", "on_hold"]
[sla.policy.targets]
urgent = { first_response = "15m", next_reply = "30m", resolution = "4h" }
high   = { first_response = "1h",  resolution = "8h" }

[[sla.policy]]
name = "standard"
calendar = "office"
[sla.policy.targets]
normal = { first_response = "4h", next_reply = "8h", resolution = "3d" }

[sla.calendar.office]
timezone = "Europe/Berlin"
hours = { mon = ["09:00-18:00"], tue = ["09:00-18:00"], wed = ["09:00-18:00"], thu = ["09:00-18:00"], fri = ["09:00-17:00"], sat = ["10:00-12:00", "13:00-15:00"] }
holidays = ["2026-12-24", "2026-12-25"]
"#;

const MIN: i64 = 60_000;

#[test]
fn the_spec_example_compiles() {
    let config = Config::parse(SPEC_EXAMPLE).expect("the SPEC §4.1 example is valid");
    let rules = &config.sla_rules;
    assert!(!rules.is_off());
    assert_eq!(rules.policies.len(), 2);
    let vip = &rules.policies[0];
    assert_eq!(
        vip.target(Priority::Urgent, Kind::FirstResponse),
        Some(15 * MIN)
    );
    assert_eq!(
        vip.target(Priority::Urgent, Kind::Resolution),
        Some(240 * MIN)
    );
    assert_eq!(vip.target(Priority::High, Kind::NextReply), None);
    assert_eq!(vip.target(Priority::Normal, Kind::FirstResponse), None);
    assert_eq!(
        rules.policies[1].target(Priority::Normal, Kind::Resolution),
        Some(3 * 24 * 60 * MIN)
    );
    // First match wins; the second policy matches every ticket.
    assert_eq!(rules.choose("vip", Channel::Phone), Some(0));
    assert_eq!(rules.choose("vip", Channel::Email), Some(1));
    assert_eq!(rules.choose("billing", Channel::Phone), Some(1));
    // pause_on defaults to pending and on_hold.
    let standard = &rules.policies[1];
    assert!(standard.pauses(TicketStatus::Pending) && standard.pauses(TicketStatus::OnHold));
    assert!(!standard.pauses(TicketStatus::Open));
    let office = &rules.schedules[vip.calendar.expect("vip has a calendar")];
    assert_eq!(office.week[4], vec![(540, 1020)]);
    assert_eq!(office.week[5], vec![(600, 720), (780, 900)]);
    assert!(office.week[6].is_empty(), "days not named are closed");
    assert_eq!(office.holidays.len(), 2);
    // 0.8 × 15 min = 720,000 ms exactly (a float product would round up
    // to 720,001).
    assert_eq!(rules.at_risk_ms(15 * MIN), 720_000);
    assert_eq!(rules.at_risk_ms(1), 1, "0.8 ms rounds up");
    assert_eq!(rules.kinds_in_use().collect::<Vec<_>>(), Kind::ALL.to_vec());
}

#[test]
fn no_policy_runs_no_clock() {
    let config = Config::parse("").expect("empty config");
    assert!(config.sla_rules.is_off());
    assert_eq!(config.sla_rules.kinds_in_use().count(), 0);
}

fn error_of(text: &str) -> String {
    let err: ConfigError = Config::parse(text).expect_err("the config is rejected");
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

fn policy(body: &str) -> String {
    format!("[[sla.policy]]\nname = \"p\"\n{body}\n")
}

#[test]
fn each_error_names_its_key() {
    let office = "[sla.calendar.office]\ntimezone = \"UTC\"\n";
    let cases: Vec<(String, &str)> = vec![
        (policy("queue = [\"vip\"]"), "unknown field `queue`"),
        (
            policy("[sla.policy.targets]\nnormal = { first_reply = \"1h\" }"),
            "unknown field `first_reply`",
        ),
        (format!("{office}days = 3\n"), "unknown field `days`"),
        ("[sla]\nat_risky = 1\n".into(), "unknown field `at_risky`"),
        (
            policy("calendar = \"nights\""),
            "sla.policy[0] (\"p\").calendar: no [sla.calendar.nights]",
        ),
        (
            format!("{office}hours = {{ mon = [\"09:00-12:00\", \"11:00-13:00\"] }}\n"),
            "sla.calendar.office.hours.mon: \"11:00-13:00\" overlaps",
        ),
        (
            format!("{office}hours = {{ mon = [\"13:00-15:00\", \"09:00-12:00\"] }}\n"),
            "sla.calendar.office.hours.mon: \"09:00-12:00\" overlaps or comes before",
        ),
        (
            format!("{office}hours = {{ mon = [\"18:00-09:00\"] }}\n"),
            "\"18:00-09:00\" must end after it starts",
        ),
        (
            format!("{office}hours = {{ mon = [\"09:00-24:30\"] }}\n"),
            "is not \"HH:MM-HH:MM\"",
        ),
        (
            format!("{office}hours = {{ monday = [\"09:00-17:00\"] }}\n"),
            "\"monday\" is not a day",
        ),
        (
            format!("{office}holidays = [\"24.12.2026\"]\n"),
            "is not a date YYYY-MM-DD",
        ),
        (
            "[sla.calendar.office]\ntimezone = \"Mars/Olympus\"\n".into(),
            "sla.calendar.office.timezone",
        ),
        (
            policy("[sla.policy.targets]\nnormal = { first_response = \"soon\" }"),
            "line 4: invalid value: string \"soon\", expected a duration",
        ),
        (
            policy("[sla.policy.targets]\nnormal = { resolution = \"0s\" }"),
            "sla.policy[0] (\"p\").targets.normal.resolution: a target must be above zero",
        ),
        (
            policy("[sla.policy.targets]\ncritical = { resolution = \"1h\" }"),
            "\"critical\" is not a priority",
        ),
        (
            policy("pause_on = [\"closed\"]"),
            "\"closed\" is not a ticket status",
        ),
        (policy("channels = [\"fax\"]"), "\"fax\" is not a channel"),
        (
            "[sla]\nat_risk = 1.5\n".into(),
            "sla.at_risk 1.5 must be above 0",
        ),
    ];
    for (text, expected) in cases {
        let message = error_of(&text);
        assert!(
            message.contains(expected),
            "{text}\n→ {message}\nexpected {expected:?}"
        );
    }
}

#[test]
fn sla_is_only_set_in_the_file() {
    use crate::config::Sources;
    let env = vec![("DESKPULSE_SLA_AT_RISK".to_owned(), "0.5".to_owned())];
    let err = Config::resolve(&Sources {
        env,
        ..Sources::default()
    })
    .expect_err("no SLA from the environment");
    assert!(
        err.to_string().contains("define them in the config file"),
        "{err}"
    );
    let err = Config::resolve(&Sources {
        overrides: vec![("sla.at_risk".to_owned(), "0.5".to_owned())],
        ..Sources::default()
    })
    .expect_err("no SLA from the command line");
    assert!(
        err.to_string().contains("define them in the config file"),
        "{err}"
    );
}

proptest::proptest! {
    /// The 64-bit path of the at-risk threshold gives what exact 128-bit
    /// arithmetic gives, up to targets where it hands over to it.
    #[test]
    fn at_risk_threshold_is_exact(target in 0i64..i64::MAX / 2, ppb in 1i64..=1_000_000_000) {
        let rules = crate::engine::sla::policy::SlaRules {
            at_risk_ppb: ppb,
            ..Default::default()
        };
        let exact = (i128::from(target) * i128::from(ppb) + 999_999_999) / 1_000_000_000;
        proptest::prop_assert_eq!(i128::from(rules.at_risk_ms(target)), exact);
        let small = target % 10_000_000_000;
        let exact = (i128::from(small) * i128::from(ppb) + 999_999_999) / 1_000_000_000;
        proptest::prop_assert_eq!(i128::from(rules.at_risk_ms(small)), exact);
    }
}
