//! The commands' own interface through the real binary: `check-config`
//! with where each setting came from, `replay --report json` and its
//! progress bar kept off a pipe, and every subcommand's `--help` examples.

mod common;

use std::process::{Command, Output, Stdio};

use common::TempFile;

/// Runs `deskpulse` with `args` and `env` (and no other `DESKPULSE_`
/// variable of the calling shell), stdin empty.
fn deskpulse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deskpulse"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DESKPULSE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("deskpulse runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The line of `check-config` output for `key`.
fn line_of<'a>(stdout: &'a str, key: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{stdout}"))
}

#[test]
fn check_config_shows_each_setting_with_its_origin_and_masks_secrets() {
    let file = TempFile::new(
        ".toml",
        concat!(
            "[kafka]\n",
            "group_id = \"from-file\"\n",
            "[kafka.properties]\n",
            "\"sasl.password\" = \"hunter2-file\"\n",
            "[[sla.policy]]\n",
            "name = \"all\"\n",
            "[sla.policy.targets]\n",
            "normal = { first_response = \"1h\" }\n",
        )
        .as_bytes(),
    );
    let path = file.0.to_str().expect("temp path is UTF-8");
    let out = deskpulse(
        &[
            "check-config",
            path,
            "--set",
            "http.listen=127.0.0.1:9999",
            "--set",
            "kafka.properties.sasl.oauthbearer.client.secret=s3cret-cli",
        ],
        &[
            ("DESKPULSE_KAFKA_BROKERS", "b:9092"),
            ("DESKPULSE_KAFKA_PROPERTIES_SSL_KEY_PASSWORD", "hunter2-env"),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        line_of(&stdout, "kafka.brokers"),
        "kafka.brokers = \"b:9092\"  (environment variable DESKPULSE_KAFKA_BROKERS)"
    );
    assert_eq!(
        line_of(&stdout, "kafka.group_id"),
        format!("kafka.group_id = \"from-file\"  (file {path})")
    );
    assert_eq!(
        line_of(&stdout, "http.listen"),
        "http.listen = \"127.0.0.1:9999\"  (--set http.listen)"
    );
    assert_eq!(
        line_of(&stdout, "metrics.prefix"),
        "metrics.prefix = \"support_\"  (default)"
    );
    assert!(line_of(&stdout, "sla.policy").ends_with(&format!("(file {path})")));
    for (key, secret) in [
        ("kafka.properties.sasl.password", "hunter2-file"),
        ("kafka.properties.ssl.key.password", "hunter2-env"),
        (
            "kafka.properties.sasl.oauthbearer.client.secret",
            "s3cret-cli",
        ),
    ] {
        assert!(
            line_of(&stdout, key).contains("\"********\""),
            "{key} masked"
        );
        assert!(
            !stdout.contains(secret),
            "{secret} shown in clear:\n{stdout}"
        );
        assert!(!text(&out.stderr).contains(secret));
    }
}

#[test]
fn check_config_reads_deskpulse_config_like_run() {
    let file = TempFile::new(".toml", b"[metrics]\nprefix = \"helpdesk_\"\n");
    let path = file.0.to_str().expect("temp path is UTF-8");
    let out = deskpulse(&["check-config"], &[("DESKPULSE_CONFIG", path)]);
    assert!(out.status.success(), "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        line_of(&text(&out.stdout), "metrics.prefix"),
        format!("metrics.prefix = \"helpdesk_\"  (file {path})")
    );
}

#[test]
fn check_config_fails_a_bad_config_with_its_one_line_error() {
    let file = TempFile::new(
        ".toml",
        b"[[sla.policy]]\nname = \"all\"\ncalendar = \"nope\"\n[sla.policy.targets]\nnormal = { first_response = \"1h\" }\n",
    );
    let out = deskpulse(&["check-config", file.0.to_str().expect("UTF-8")], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing printed for a bad config");
    assert_eq!(
        text(&out.stderr).trim_end(),
        "deskpulse: config: sla.policy[0] (\"all\").calendar: no [sla.calendar.nope] is defined; define it or fix the name"
    );
    let out = deskpulse(&["check-config"], &[("DESKPULSE_KAFKA_BROKER", "b:9092")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("DESKPULSE_KAFKA_BROKER names no setting"),
        "{stderr}"
    );
}

/// `count` generated events, from the binary's own generator.
fn generated(count: u64) -> Vec<u8> {
    let out = deskpulse(&["generate", "--events", &count.to_string()], &[]);
    assert!(out.status.success(), "generate: {}", text(&out.stderr));
    out.stdout
}

/// Generated events (all accepted), then one of them again and a line
/// that is not JSON.
fn events_with_a_duplicate_and_a_bad_line(count: u64) -> Vec<u8> {
    let mut input = generated(count);
    let first = input
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    input.extend_from_slice(&first);
    input.extend_from_slice(b"\n{not json\n");
    input
}

#[test]
fn replay_report_json_is_one_object_with_the_counts() {
    let input = events_with_a_duplicate_and_a_bad_line(5_000);
    let run = common::replay_with_args(&input, None, &["--report", "json"]);
    run.assert_ok();
    let report: serde_json::Value =
        serde_json::from_str(run.summary()).expect("the summary is one JSON object");
    assert_eq!(report["lines"], 5_002);
    assert_eq!(report["accepted"], 5_000);
    assert_eq!(report["late"], 0);
    assert_eq!(report["duplicates"], 1);
    assert_eq!(report["rejected"], 1);
    assert_eq!(report["rejected_by_reason"]["invalid_json"], 1);
    assert_eq!(report["rejected_by_reason"]["unknown_ticket"], 0);
    assert!(!run.stderr.contains("replayed "), "no text summary too");
    assert_eq!(run.rejected("invalid_json"), 1.0, "the exposition agrees");
}

#[test]
fn replay_draws_no_progress_on_a_pipe() {
    // Enough lines for many progress updates, had a bar been drawn.
    let input = events_with_a_duplicate_and_a_bad_line(50_000);
    let run = common::replay_with_args(&input, None, &[]);
    run.assert_ok();
    assert_eq!(
        run.summary(),
        "replayed 50002 lines: accepted 50000 (late 0), duplicates 1, rejected 1 (invalid_json=1)"
    );
    let others: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| !line.contains("rejected event") && *line != run.summary())
        .collect();
    assert!(others.is_empty(), "extra stderr on a pipe: {others:?}");
    assert!(!run.stderr.contains('\r') && !run.stderr.contains('\u{1b}'));
    assert!(!run.stderr.contains("events/s"));
}

/// The subcommands `deskpulse help` lists, but `help` itself: a new one
/// is checked without this test changing.
fn subcommands() -> Vec<String> {
    let out = deskpulse(&["help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    let names: Vec<String> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 6, "subcommands in:\n{help}");
    names
}

#[test]
fn every_subcommand_help_has_examples() {
    for name in subcommands() {
        let out = deskpulse(&[&name, "--help"], &[]);
        assert!(out.status.success(), "{name} --help");
        let help = text(&out.stdout);
        let examples = help
            .split_once("\nExamples:\n")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("no Examples section in {name} --help:\n{help}"));
        assert!(
            examples
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("deskpulse {name}"))),
            "{name} --help has no example of itself:\n{examples}"
        );
    }
}

/// `generate --live`: events stamped from now, each written when the wall
/// clock reaches its time, not all at once.
#[test]
fn generate_live_writes_each_event_at_its_time() {
    use std::io::{BufRead, BufReader};
    use std::time::{SystemTime, UNIX_EPOCH};
    let now_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64
    };
    let started_ms = now_ms();
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["generate", "--live", "--rate", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("generate starts");
    let lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut read = Vec::new();
    for line in lines {
        let line = line.expect("a line");
        let event: serde_json::Value = serde_json::from_str(&line).expect("an event");
        // The generator writes some instants as epoch milliseconds.
        let ts = event["ts"].as_i64().unwrap_or_else(|| {
            let text = event["ts"]
                .as_str()
                .unwrap_or_else(|| panic!("ts of {line}"));
            chrono::DateTime::parse_from_rfc3339(text)
                .unwrap_or_else(|e| panic!("ts of {line}: {e}"))
                .timestamp_millis()
        });
        read.push((ts, now_ms()));
        if ts > started_ms + 1_500 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (first_ts, _) = read[0];
    assert!(
        (first_ts - started_ms).abs() < 5_000,
        "the first event is stamped {} ms from the start",
        first_ts - started_ms
    );
    // Written no earlier than its time (a few ms of clock granularity
    // aside): a stream written at once would be read long before.
    for &(ts, arrived_ms) in &read {
        assert!(
            arrived_ms >= ts - 20,
            "an event stamped {ts} was read at {arrived_ms}, before its time"
        );
    }
    assert!(read.len() > 5, "{} events in 1.5 s at 20/s", read.len());
}
