use super::*;

const NOW: i64 = 1_700_000_000_000;

fn decode(line: &str) -> Result<Event<'_>, Reject> {
    let decoder = Decoder::new(["training.attended".to_string()], 3_600_000);
    let mut raw = RawEvent::default();
    parse(line, &mut raw)?;
    decoder.validate(&mut raw, NOW).map(|(_, e)| e)
}

#[test]
fn rfc3339_and_epoch_agree() {
    let a = decode(r#"{"event_id":"a","type":"ticket.created","ts":"2023-11-14T22:13:20.123999Z","ticket_id":"t"}"#).unwrap();
    let b =
        decode(r#"{"event_id":"b","type":"ticket.created","ts":1700000000123,"ticket_id":"t"}"#)
            .unwrap();
    assert_eq!(a.ts, b.ts);
    let offset = decode(r#"{"event_id":"c","type":"ticket.created","ts":"2023-11-15T00:13:20.123+02:00","ticket_id":"t"}"#).unwrap();
    assert_eq!(offset.ts, b.ts);
}

#[test]
fn checks_follow_spec_order() {
    let cases = [
        ("{not json", Reject::InvalidJson),
        ("[1,2]", Reject::InvalidJson),
        (r#"{"event_id":"x","ts":1}"#, Reject::MissingField),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":1}"#,
            Reject::MissingField,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":null}"#,
            Reject::MissingField,
        ),
        (
            r#"{"event_id":7,"type":"ticket.created","ts":1,"ticket_id":"t"}"#,
            Reject::InvalidField,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":1.5,"ticket_id":"t"}"#,
            Reject::InvalidField,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","priority":"p1"}"#,
            Reject::InvalidField,
        ),
        (
            r#"{"event_id":"x","type":"survey.csat","ts":1,"score":4.5}"#,
            Reject::InvalidField,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":"2023-11-14T22:13:20","ticket_id":"t"}"#,
            Reject::InvalidTs,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":"yesterday","ticket_id":"t"}"#,
            Reject::InvalidTs,
        ),
        (
            r#"{"event_id":"x","type":"ticket.created","ts":4102444800000,"ticket_id":"t"}"#,
            Reject::FutureTs,
        ),
        (
            r#"{"event_id":"x","type":"survey.csat","ts":1,"score":6}"#,
            Reject::OutOfRange,
        ),
        (
            r#"{"event_id":"x","type":"interaction.completed","ts":1,"interaction_id":"i","wait_s":-1,"talk_s":3}"#,
            Reject::OutOfRange,
        ),
        (
            r#"{"event_id":"x","type":"ticket.teleported","ts":1,"score":600}"#,
            Reject::UnknownType,
        ),
    ];
    for (line, want) in cases {
        assert_eq!(decode(line).map(|_| ()), Err(want), "{line}");
    }
}

#[test]
fn defaults_and_custom_types() {
    let e = decode(
        r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","channel":"sms"}"#,
    )
    .unwrap();
    match e.kind {
        Kind::TicketCreated {
            channel,
            priority,
            queue,
            ..
        } => {
            assert_eq!(channel, Channel::Other);
            assert_eq!(priority, Priority::Normal);
            assert_eq!(queue, None);
        }
        other => panic!("{other:?}"),
    }
    let custom = decode(r#"{"event_id":"x","type":"training.attended","ts":1}"#).unwrap();
    assert!(matches!(custom.kind, Kind::Custom));
    let private = decode(r#"{"event_id":"x","type":"ticket.agent_replied","ts":1,"ticket_id":"t","agent_id":"a","public":false}"#).unwrap();
    assert!(matches!(
        private.kind,
        Kind::AgentReplied { public: false, .. }
    ));
}

#[test]
fn escaped_strings_decode() {
    let e = decode(
        r#"{"event_id":"x","type":"ticket.created","ts":1,"ticket_id":"t","queue":"b\u00e9\"q"}"#,
    )
    .unwrap();
    match e.kind {
        Kind::TicketCreated { queue, .. } => assert_eq!(queue.as_deref(), Some("bé\"q")),
        other => panic!("{other:?}"),
    }
}
