use super::*;

/// The fetch wait the tests run with: the limit is 5.01 s.
const FETCH_WAIT: &str = "10";
const TOPIC: &str = "events";

/// One broker in a set of statistics.
#[derive(Clone)]
struct Broker {
    name: &'static str,
    source: &'static str,
    state: &'static str,
    waiting: i64,
    /// Milliseconds since the last send and receive.
    sent_ms: i64,
    heard_ms: i64,
    rxbytes: u64,
    leads: Vec<i32>,
}

/// The leader of partition 0, connected, a fetch waiting, just answered.
fn leader() -> Broker {
    Broker {
        name: "127.0.0.1:9092/1",
        source: "learned",
        state: "UP",
        waiting: 1,
        sent_ms: 5,
        heard_ms: 5,
        rxbytes: 1_000,
        leads: vec![0],
    }
}

fn coordinator() -> Broker {
    Broker {
        name: "GroupCoordinator",
        source: "logical",
        leads: vec![],
        ..leader()
    }
}

fn statistics(brokers: &[Broker]) -> Statistics {
    let brokers: serde_json::Map<String, serde_json::Value> = brokers
        .iter()
        .map(|b| {
            let toppars: serde_json::Map<String, serde_json::Value> = b
                .leads
                .iter()
                .map(|p| {
                    let led = serde_json::json!({"topic": TOPIC, "partition": p});
                    (format!("{TOPIC}-{p}"), led)
                })
                .collect();
            let broker = serde_json::json!({
                "name": b.name, "source": b.source, "state": b.state,
                "waitresp_cnt": b.waiting, "txidle": b.sent_ms * 1000,
                "rxidle": b.heard_ms * 1000, "rxbytes": b.rxbytes,
                "toppars": toppars,
            });
            (b.name.to_owned(), broker)
        })
        .collect();
    serde_json::from_value(serde_json::json!({"name": "rdkafka#consumer-1", "brokers": brokers}))
        .expect("test statistics parse")
}

/// A watch fed statistics at chosen instants, with partition 0 assigned.
struct Feed {
    watch: BrokerWatch,
    start: Instant,
    assigned: Vec<i32>,
    lost: bool,
}

impl Feed {
    fn new() -> Feed {
        Feed {
            watch: BrokerWatch::new(Some(FETCH_WAIT)),
            start: Instant::now(),
            assigned: vec![0],
            lost: false,
        }
    }

    /// Statistics `at_ms` after the start; whether the brokers are up.
    fn at(&self, at_ms: u64, brokers: &[Broker]) -> bool {
        let now = self.start + Duration::from_millis(at_ms);
        self.watch
            .observe_at(&statistics(brokers), now, self.lost, |topic, partition| {
                topic == TOPIC && self.assigned.contains(&partition)
            });
        self.watch.up()
    }
}

#[test]
fn a_broker_owing_an_answer_past_the_limit_is_an_outage_until_it_answers() {
    let feed = Feed::new();
    assert!(feed.at(0, &[leader()]));
    let silent = |sent_ms| Broker {
        sent_ms,
        heard_ms: 99_999,
        ..leader()
    };
    assert!(feed.at(3_000, &[silent(3_000)]), "within the limit");
    // A request sent to the silent broker since does not restart its
    // silence: nothing was received, so the fetch still waits.
    assert!(!feed.at(5_100, &[silent(100)]), "past the limit");
    assert_eq!(feed.watch.outages(), 1);
    assert!(!feed.at(6_000, &[silent(1_000)]));
    let answered = Broker {
        rxbytes: 2_000,
        ..leader()
    };
    assert!(feed.at(7_000, &[answered]), "answered again");
    assert_eq!(feed.watch.outages(), 1, "one outage");
}

#[test]
fn the_fetch_wait_is_part_of_the_limit() {
    let feed = Feed {
        watch: BrokerWatch::new(Some("3000")),
        ..Feed::new()
    };
    feed.at(0, &[leader()]);
    let silent = Broker {
        sent_ms: 7_000,
        heard_ms: 7_000,
        ..leader()
    };
    assert!(
        feed.at(7_000, std::slice::from_ref(&silent)),
        "a fetch may wait 3 s"
    );
    assert!(!feed.at(
        8_100,
        &[Broker {
            sent_ms: 8_100,
            heard_ms: 8_100,
            ..silent
        }]
    ));
}

#[test]
fn a_broker_owing_nothing_is_answering_however_long_it_is_quiet() {
    let feed = Feed::new();
    let idle = Broker {
        waiting: 0,
        sent_ms: 60_000,
        heard_ms: 60_000,
        ..leader()
    };
    assert!(feed.at(60_000, &[idle]));
}

#[test]
fn only_brokers_leading_assigned_partitions_are_judged() {
    let feed = Feed::new();
    let other = Broker {
        name: "127.0.0.1:9093/2",
        leads: vec![1],
        state: "DOWN",
        ..leader()
    };
    let internal = Broker {
        name: ":0/internal",
        source: "internal",
        state: "INIT",
        ..leader()
    };
    let silent_coordinator = Broker {
        sent_ms: 60_000,
        heard_ms: 60_000,
        ..coordinator()
    };
    for at_ms in [0, 10_000, 60_000] {
        let answering = Broker {
            rxbytes: 1_000 + at_ms,
            ..leader()
        };
        let brokers = [
            answering,
            other.clone(),
            internal.clone(),
            silent_coordinator.clone(),
        ];
        assert!(feed.at(at_ms, &brokers), "at {at_ms} ms");
    }
}

#[test]
fn a_broker_disconnected_past_the_limit_is_an_outage_though_its_state_changes() {
    let feed = Feed::new();
    feed.at(0, &[leader()]);
    let states = ["DOWN", "TRY_CONNECT", "CONNECT", "APIVERSION_QUERY", "DOWN"];
    for (i, state) in states.into_iter().enumerate() {
        let down = Broker { state, ..leader() };
        let at_ms = 1_000 + 1_000 * i as u64;
        assert_eq!(feed.at(at_ms, &[down]), at_ms <= 5_010, "at {at_ms} ms");
    }
}

#[test]
fn a_broker_that_comes_to_lead_a_partition_is_held_to_the_limit_from_then() {
    let mut feed = Feed::new();
    feed.assigned = vec![];
    let never_connected = Broker {
        state: "INIT",
        ..leader()
    };
    feed.at(0, &[never_connected]);
    feed.assigned = vec![0];
    let connecting = Broker {
        state: "CONNECT",
        ..leader()
    };
    assert!(feed.at(60_000, &[connecting]), "needed only now");
    assert!(feed.at(61_000, &[leader()]));
}

#[test]
fn when_the_session_runs_out_the_coordinator_keeps_the_outage_until_it_answers() {
    let mut feed = Feed::new();
    feed.at(0, &[leader(), coordinator()]);
    let silent = |b: Broker, ms| Broker {
        sent_ms: ms,
        heard_ms: ms,
        ..b
    };
    assert!(!feed.at(
        6_000,
        &[silent(leader(), 6_000), silent(coordinator(), 6_000)]
    ));
    // The session runs out: the partitions are gone, and with them the
    // leader's part in the outage.
    feed.assigned = vec![];
    feed.lost = true;
    let down_coordinator = Broker {
        state: "CONNECT",
        ..coordinator()
    };
    assert!(!feed.at(10_000, &[silent(leader(), 10_000), down_coordinator]));
    assert!(!feed.at(
        20_000,
        &[silent(leader(), 20_000), silent(coordinator(), 1_000)]
    ));
    let coordinator_answers = Broker {
        rxbytes: 2_000,
        ..coordinator()
    };
    assert!(feed.at(21_000, &[silent(leader(), 21_000), coordinator_answers]));
    assert_eq!(feed.watch.outages(), 1);
}

#[test]
fn a_session_lost_before_the_outage_shows_is_found_by_the_coordinator() {
    let mut feed = Feed::new();
    feed.at(0, &[leader(), coordinator()]);
    feed.assigned = vec![];
    feed.lost = true;
    let down_coordinator = Broker {
        state: "DOWN",
        ..coordinator()
    };
    assert!(feed.at(4_000, &[leader(), down_coordinator.clone()]));
    assert!(
        !feed.at(9_100, &[leader(), down_coordinator]),
        "5 s after the loss"
    );
}

#[test]
fn statistics_that_cannot_be_read_change_nothing() {
    let watch = BrokerWatch::new(None);
    watch.observe(b"not json", false, |_, _| true);
    watch.observe(br#"{"brokers": 7}"#, false, |_, _| true);
    assert!(watch.up());
    assert_eq!(
        watch.limit,
        Duration::from_millis(5_500),
        "librdkafka's fetch wait"
    );
}
