//! The Kafka topic store (`state.topic`) against a real Kafka-protocol
//! broker (started by `tests/with-broker`): checkpoints of several chunks
//! come back whole, from another instance too; the newest save wins; a
//! save cut short leaves the last checkpoint loadable; partitions and
//! groups keep apart; a reset makes a group's checkpoints unloadable; a
//! partition never saved loads nothing, quickly, and one saved long ago is
//! found behind hundreds of newer saves; startup errors say what to do.
//! Each test has a topic of its own, which the store creates.

mod common;

use std::time::{Duration, Instant};

use common::kafka::kafka;
use common::{Rng, UNIQUE};
use deskpulse::checkpoint::{PartitionName, Store, TopicStore};
use rdkafka::consumer::{BaseConsumer, Consumer};

/// A chunk is 900 KB: this is four of them and a bit.
const FOUR_CHUNKS_AND_A_BIT: usize = 4 * 900 * 1000 + 4321;

fn state_topic(hint: &str) -> String {
    format!(
        "state-{hint}-{}-{}-{}",
        std::process::id(),
        UNIQUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        deskpulse::source::wall_ms()
    )
}

fn store(topic: &str) -> TopicStore {
    TopicStore::new(&kafka(), topic).unwrap_or_else(|e| panic!("the topic store starts: {e}"))
}

fn partition<'a>(group: &'a str, partition: i32) -> PartitionName<'a> {
    PartitionName {
        group,
        topic: "support-events",
        partition,
    }
}

/// `n` bytes that do not compress, different for each seed.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(n);
    out
}

#[track_caller]
fn assert_loads(store: &TopicStore, p: &PartitionName, expected: Option<&[u8]>, what: &str) {
    let loaded = store
        .load(p)
        .unwrap_or_else(|e| panic!("{what}: the store is readable: {e}"));
    let describe = |b: Option<&[u8]>| b.map(|b| (b.len(), b.get(..8).map(<[u8]>::to_vec)));
    assert!(
        loaded.as_deref() == expected,
        "{what}: expected {:?}, loaded {:?}",
        describe(expected),
        describe(loaded.as_deref())
    );
}

#[test]
fn a_checkpoint_of_several_chunks_comes_back_whole_and_the_newest_save_wins() {
    let topic = state_topic("roundtrip");
    let writer = store(&topic);
    let p = partition("deskpulse", 3);
    let first = noise(FOUR_CHUNKS_AND_A_BIT, 1);
    writer.save(&p, &first).expect("saved");
    assert_loads(&writer, &p, Some(&first), "the one save");

    // Another instance of the group, sharing nothing but the brokers.
    let other_instance = store(&topic);
    assert_loads(&other_instance, &p, Some(&first), "from another instance");

    let second = noise(2 * 900 * 1000 - 1, 2);
    let third = noise(FOUR_CHUNKS_AND_A_BIT + 900 * 1000, 3);
    writer.save(&p, &second).expect("saved");
    other_instance.save(&p, &third).expect("saved");
    assert_loads(&writer, &p, Some(&third), "the newest of three saves");
    // A small one after a large one: no chunk of the large one is taken.
    writer.save(&p, b"small").expect("saved");
    assert_loads(
        &other_instance,
        &p,
        Some(b"small"),
        "a small save after a large one",
    );
    writer.save(&p, b"").expect("saved");
    assert_loads(&other_instance, &p, Some(b""), "an empty save");

    // The store made the topic: the index and 8 chunk partitions.
    let consumer: BaseConsumer = deskpulse::source::kafka::client_config(&kafka())
        .create()
        .expect("a metadata client");
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata");
    assert_eq!(metadata.topics()[0].partitions().len(), 9);
}

#[test]
fn a_save_cut_short_leaves_the_last_checkpoint_loadable() {
    let topic = state_topic("interrupted");
    let store = store(&topic);
    let p = partition("deskpulse", 0);
    let last = noise(FOUR_CHUNKS_AND_A_BIT, 10);
    store.save(&p, &last).expect("saved");
    let cut = noise(FOUR_CHUNKS_AND_A_BIT, 11);
    store
        .save_interrupted(&p, &cut, 2)
        .expect("two chunks written");
    assert_loads(
        &store,
        &p,
        Some(&last),
        "after a save cut after 2 of 5 chunks",
    );

    // The next save writes the slot the cut one left chunks in, and wins.
    let next = noise(3 * 900 * 1000, 12);
    store.save(&p, &next).expect("saved");
    assert_loads(&store, &p, Some(&next), "the save after the cut one");
    // Cut twice in a row, after all chunks but the manifest too.
    store
        .save_interrupted(&p, &cut, 5)
        .expect("all chunks written");
    store
        .save_interrupted(&p, &last, 1)
        .expect("one chunk written");
    assert_loads(&store, &p, Some(&next), "after two more cut saves");

    // A partition whose very first save was cut has nothing to load.
    let never_whole = partition("deskpulse", 1);
    store
        .save_interrupted(&never_whole, &cut, 3)
        .expect("three chunks written");
    assert_loads(&store, &never_whole, None, "a first save cut short");
}

#[test]
fn partitions_and_groups_keep_apart() {
    let topic = state_topic("apart");
    let store = store(&topic);
    let saves = [
        (partition("deskpulse", 0), noise(FOUR_CHUNKS_AND_A_BIT, 20)),
        (partition("deskpulse", 1), noise(900 * 1000 + 1, 21)),
        (partition("other-group", 0), noise(1000, 22)),
        (
            PartitionName {
                topic: "other-events",
                ..partition("deskpulse", 0)
            },
            noise(10, 23),
        ),
        // Escaping keeps "a/b" (group) apart from group "a" and topic "b/…".
        (partition("deskpulse/0", 0), noise(11, 24)),
    ];
    for (p, bytes) in &saves {
        store.save(p, bytes).expect("saved");
    }
    for (p, bytes) in &saves {
        assert_loads(&store, p, Some(bytes), &p.to_string());
    }
    assert_loads(
        &store,
        &partition("deskpulse", 2),
        None,
        "a partition never saved",
    );
    assert_loads(
        &store,
        &partition("third-group", 0),
        None,
        "a group never saved",
    );
}

#[test]
fn a_reset_makes_every_checkpoint_of_the_group_unloadable() {
    let topic = state_topic("reset");
    let store = store(&topic);
    let kept = partition("kept-group", 0);
    let reset = [partition("deskpulse", 0), partition("deskpulse", 1)];
    store.save(&kept, &noise(2000, 30)).expect("saved");
    for (i, p) in reset.iter().enumerate() {
        store
            .save(p, &noise(FOUR_CHUNKS_AND_A_BIT, 31 + i as u64))
            .expect("saved");
        store.save(p, &noise(2000, 33 + i as u64)).expect("saved");
    }
    store.reset("deskpulse").expect("reset");
    for p in &reset {
        assert_loads(&store, p, None, &format!("{p} after the reset"));
    }
    assert_loads(&store, &kept, Some(&noise(2000, 30)), "another group's");
    // Another instance sees the reset, and a save after it loads again.
    let other_instance = self::store(&topic);
    assert_loads(&other_instance, &reset[0], None, "from another instance");
    let after = noise(900 * 1000 + 5, 35);
    other_instance.save(&reset[0], &after).expect("saved");
    assert_loads(&store, &reset[0], Some(&after), "a save after the reset");
    assert_loads(&store, &reset[1], None, "the other partition, still reset");
    // A reset of a group with nothing saved changes nothing else.
    store.reset("never-saved").expect("reset");
    assert_loads(
        &store,
        &reset[0],
        Some(&after),
        "after another group's reset",
    );
}

#[test]
fn a_partition_never_saved_loads_nothing_quickly() {
    let topic = state_topic("never");
    let store = store(&topic);
    let started = Instant::now();
    assert_loads(&store, &partition("deskpulse", 0), None, "an empty topic");
    let on_empty = started.elapsed();
    let old = partition("deskpulse", 9);
    store.save(&old, &noise(900 * 1000 + 7, 39)).expect("saved");
    // An index of a few hundred manifests of other partitions, and chunks.
    let started = Instant::now();
    for i in 0..300 {
        store
            .save(&partition("busy", i), &noise(100, i as u64))
            .expect("saved");
    }
    store
        .save(&partition("busy", 0), &noise(FOUR_CHUNKS_AND_A_BIT, 40))
        .expect("saved");
    eprintln!("300 saves of 100 bytes: {:?} each", started.elapsed() / 300);
    let started = Instant::now();
    assert_loads(&store, &partition("deskpulse", 0), None, "a busy topic");
    let on_busy = started.elapsed();
    // Behind 301 newer manifests: read back over more than one stretch.
    let started = Instant::now();
    assert_loads(
        &store,
        &old,
        Some(&noise(900 * 1000 + 7, 39)),
        "a save behind 301 others",
    );
    eprintln!(
        "load of a 0.9 MB checkpoint behind 301 newer saves: {:?}",
        started.elapsed()
    );
    eprintln!("load of a partition never saved: {on_empty:?} on an empty topic, {on_busy:?} beside 301 saves");
    assert!(
        on_empty < Duration::from_secs(2) && on_busy < Duration::from_secs(2),
        "a load that finds nothing takes {on_empty:?} and {on_busy:?}; expected well under 2 s"
    );
}

/// Not a check: how long a 50 MB checkpoint (incompressible, as an encoded
/// one is) takes to save and to load, for the README.
#[test]
fn timings_of_a_50_mb_checkpoint() {
    let topic = state_topic("timing");
    let store = store(&topic);
    let p = partition("deskpulse", 0);
    for run in 0..3 {
        let bytes = noise(50 << 20, 50 + run);
        let started = Instant::now();
        store.save(&p, &bytes).expect("saved");
        let saved = started.elapsed();
        let started = Instant::now();
        let loaded = store.load(&p).expect("readable").expect("a checkpoint");
        let load = started.elapsed();
        assert!(loaded == bytes, "the 50 MB checkpoint comes back whole");
        eprintln!(
            "50 MB checkpoint, run {}: save {saved:.2?} ({:.0} MB/s), load {load:.2?} ({:.0} MB/s)",
            run + 1,
            50.0 / saved.as_secs_f64(),
            50.0 / load.as_secs_f64()
        );
    }
}

#[test]
fn startup_errors_name_the_topic_and_what_to_do() {
    let one_partition = common::kafka::topic("state-one", 1);
    let error = TopicStore::new(&kafka(), &one_partition)
        .err()
        .expect("a topic of one partition is refused");
    let text = error.to_string();
    assert!(
        text.contains(&one_partition) && text.contains("at least 2") && text.contains("compact"),
        "{text}"
    );
    let nowhere = deskpulse::config::KafkaConfig {
        brokers: "127.0.0.1:1".to_owned(),
        startup_timeout: Duration::from_millis(500),
        ..kafka()
    };
    let text = TopicStore::new(&nowhere, "state")
        .err()
        .expect("no brokers, no store")
        .to_string();
    assert!(
        text.starts_with("state topic state: cannot reach the Kafka brokers at 127.0.0.1:1"),
        "{text}"
    );
}
