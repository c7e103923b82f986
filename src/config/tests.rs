use super::*;

#[test]
fn unknown_key_is_named() {
    let err = Config::parse("[engine]\nallowed_latenes = \"5m\"\n").unwrap_err();
    assert!(err.to_string().contains("allowed_latenes"), "{err}");
}

#[test]
fn window_names_follow_spec() {
    let c = Config::default();
    assert_eq!(c.window_names(), ["5m", "1h", "24h"]);
}

#[test]
fn shipped_config_parses_and_equals_defaults() {
    let text = include_str!("../../config/deskpulse.toml");
    let parsed = Config::parse(text).expect("shipped config parses");
    assert_eq!(parsed, Config::default());
    // The commented-out examples are valid too; the SLA example is the
    // file's last block, uncommented whole.
    let mut in_sla = false;
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if in_sla || rest == "[sla]" => {
                in_sla = true;
                rest
            }
            Some(rest)
                if rest.starts_with("dead_letter_topic")
                    || rest.starts_with("topic = ")
                    || (rest.starts_with('"') && rest.contains("\" = "))
                    || rest.starts_with("[[custom_ratio]]")
                    || rest.starts_with("name =")
                    || rest.starts_with("help =")
                    || rest.starts_with("numerator =")
                    || rest.starts_with("denominator =")
                    || rest.starts_with("tls_")
                    || rest.starts_with("bearer_token_file =")
                    || rest.starts_with("basic_") =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let examples = Config::parse(&uncommented).expect("shipped examples parse");
    assert_eq!(examples.custom_ratios.len(), 2);
    assert_eq!(examples.sla_rules.policies.len(), 2);
    assert_eq!(examples.sla_rules.schedules.len(), 1);
    assert!(examples.kafka.dead_letter_topic.is_some());
    assert_eq!(examples.kafka.properties["security.protocol"], "SASL_SSL");
    assert_eq!(examples.kafka.properties["fetch.wait.max.ms"], "10");
    assert!(examples.http.tls_cert_file.is_some() && examples.http.tls_key_file.is_some());
    assert!(examples.http.bearer_token_file.is_some() && examples.http.basic_user.is_some());
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve(env_pairs: &[(&str, &str)], cli: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::resolve(&Sources {
        file: None,
        env: env(env_pairs),
        overrides: env(cli),
    })
}

#[test]
fn defaults_without_sources() {
    assert_eq!(resolve(&[], &[]).unwrap(), Config::default());
}

#[test]
fn env_sets_string_duration_list_and_property() {
    let c = resolve(
        &[
            ("DESKPULSE_KAFKA_BROKERS", "b1:9092,b2:9092"),
            ("DESKPULSE_ENGINE_ALLOWED_LATENESS", "2m"),
            ("DESKPULSE_KAFKA_TOPICS", "tickets, calls"),
            ("DESKPULSE_METRICS_WINDOWS", r#"["1m", "1h"]"#),
            ("DESKPULSE_KAFKA_PROPERTIES_SASL_PASSWORD", "s3cret"),
            ("DESKPULSE_KAFKA_DEAD_LETTER_TOPIC", "support-dlq"),
            ("DESKPULSE_HTTP_LISTEN", "127.0.0.1:9999"),
            ("DESKPULSE_LIMITS_QUEUE", "7"),
            ("DESKPULSE_METRICS_TODAY", "false"),
            ("HOME", "/root"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(c.kafka.brokers, "b1:9092,b2:9092");
    assert_eq!(c.engine.allowed_lateness, Duration::from_secs(120));
    assert_eq!(c.kafka.topics, ["tickets", "calls"]);
    assert_eq!(c.window_names(), ["1m", "1h"]);
    assert_eq!(c.kafka.properties["sasl.password"], "s3cret");
    assert_eq!(c.kafka.dead_letter_topic.as_deref(), Some("support-dlq"));
    assert_eq!(c.http.listen, "127.0.0.1:9999".parse().unwrap());
    assert_eq!(c.limits.queue, 7);
    assert!(!c.metrics.today);
}

#[test]
fn cli_beats_env_beats_file() {
    let dir = std::env::temp_dir().join(format!("deskpulse-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("layered.toml");
    std::fs::write(
        &file,
        "[kafka]\nbrokers = \"file:9092\"\ngroup_id = \"from-file\"\ntopics = [\"file-topic\"]\n",
    )
    .unwrap();
    let c = Config::resolve(&Sources {
        file: Some(&file),
        env: env(&[
            ("DESKPULSE_KAFKA_BROKERS", "env:9092"),
            ("DESKPULSE_KAFKA_GROUP_ID", "from-env"),
        ]),
        overrides: env(&[("kafka.brokers", "cli:9092")]),
    })
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(c.kafka.brokers, "cli:9092");
    assert_eq!(c.kafka.group_id, "from-env");
    assert_eq!(c.kafka.topics, ["file-topic"]);
}

#[test]
fn cli_property_and_list() {
    let c = resolve(
        &[],
        &[
            ("kafka.properties.sasl.username", "svc"),
            ("metrics.windowed_by", ""),
            ("engine.csat_satisfied_min", "5"),
        ],
    )
    .unwrap();
    assert_eq!(c.kafka.properties["sasl.username"], "svc");
    assert!(c.metrics.windowed_by.is_empty());
    assert_eq!(c.engine.csat_satisfied_min, 5);
}

#[test]
fn unknown_env_variable_is_named() {
    let err = resolve(&[("DESKPULSE_KAFKA_BROKRS", "x:1")], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable DESKPULSE_KAFKA_BROKRS names no setting; settings are DESKPULSE_<SECTION>_<KEY>, e.g. DESKPULSE_KAFKA_BROKERS"
    );
    for name in [
        "DESKPULSE_KAFKA",
        "DESKPULSE_KAFKA_PROPERTIES",
        "DESKPULSE_kafka_brokers",
        "DESKPULSE_WEB_LISTEN",
    ] {
        let err = resolve(&[(name, "x")], &[]).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = resolve(&[("DESKPULSE_CUSTOM_RATIO_NAME", "x")], &[]).unwrap_err();
    assert!(err.to_string().contains("custom_ratio"), "{err}");
}

#[test]
fn unknown_cli_key_is_named() {
    for key in [
        "kafka.brokrs",
        "kafka",
        "kafka.properties",
        "kafka.properties.",
        "web.listen",
    ] {
        let err = resolve(&[], &[(key, "x")]).unwrap_err();
        assert!(err.to_string().contains(&format!("--set {key}:")), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
    let err = resolve(&[], &[("custom_ratio.name", "x")]).unwrap_err();
    assert!(err.to_string().contains("config file"), "{err}");
}

#[test]
fn type_errors_name_their_source() {
    let err = resolve(&[("DESKPULSE_LIMITS_QUEUE", "many")], &[]).unwrap_err();
    assert!(err.to_string().contains("DESKPULSE_LIMITS_QUEUE"), "{err}");
    let err = resolve(&[("DESKPULSE_ENGINE_ALLOWED_LATENESS", "5 parsecs")], &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("DESKPULSE_ENGINE_ALLOWED_LATENESS"),
        "{err}"
    );
    let err = resolve(&[], &[("http.listen", "localhost")]).unwrap_err();
    assert!(err.to_string().contains("--set http.listen"), "{err}");
    let err = resolve(&[], &[("limits.agent", "-3")]).unwrap_err();
    assert!(err.to_string().contains("--set limits.agent"), "{err}");
    let err = resolve(&[], &[("metrics.today", "yes")]).unwrap_err();
    assert!(err.to_string().contains("--set metrics.today"), "{err}");
}

#[test]
fn owned_properties_name_the_replacement() {
    for (key, instead) in [
        ("bootstrap.servers", "kafka.brokers"),
        ("group.id", "kafka.group_id"),
        ("enable.auto.offset.store", "remove it"),
        ("enable.partition.eof", "remove it"),
    ] {
        let err = resolve(&[], &[(&format!("kafka.properties.{key}"), "x")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(key) && msg.contains(instead), "{msg}");
    }
    let err = Config::parse("[kafka.properties]\n\"group.id\" = \"g\"\n").unwrap_err();
    assert!(err.to_string().contains("kafka.group_id"), "{err}");
    let err = resolve(
        &[("DESKPULSE_KAFKA_PROPERTIES_BOOTSTRAP_SERVERS", "x:1")],
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("kafka.brokers"), "{err}");
}

#[test]
fn property_values_become_text() {
    let c = Config::parse(
        "[kafka.properties]\n\"fetch.wait.max.ms\" = 10\n\"enable.ssl.certificate.verification\" = false\n\"sasl.username\" = \"svc\"\n",
    )
    .unwrap();
    assert_eq!(c.kafka.properties["fetch.wait.max.ms"], "10");
    assert_eq!(
        c.kafka.properties["enable.ssl.certificate.verification"],
        "false"
    );
    assert_eq!(c.kafka.properties["sasl.username"], "svc");
    let err = Config::parse("[kafka.properties]\n\"a.b\" = [1]\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = Config::parse("[kafka.properties.sasl]\nusername = \"x\"\n").unwrap_err();
    assert!(
        err.to_string().contains("string, integer or boolean"),
        "{err}"
    );
}

#[test]
fn config_file_variable_is_ignored() {
    let c = resolve(&[("DESKPULSE_CONFIG", "/etc/deskpulse.toml")], &[]).unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn kafka_validation() {
    for (key, value, needle) in [
        ("kafka.brokers", " ", "kafka.brokers"),
        ("kafka.topics", "", "kafka.topics"),
        ("kafka.topics", "a,,b", "kafka.topics"),
        ("kafka.topics", "a,a", "twice"),
        ("kafka.group_id", "", "kafka.group_id"),
        ("kafka.dead_letter_topic", "", "kafka.dead_letter_topic"),
        ("kafka.dead_letter_topic", "support-events", "kafka.topics"),
        ("kafka.startup_timeout", "0s", "kafka.startup_timeout"),
        ("http.header_read_timeout", "0s", "http.header_read_timeout"),
    ] {
        let err = resolve(&[], &[(key, value)]).unwrap_err();
        assert!(err.to_string().contains(needle), "{key}={value}: {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn bad_timezone_is_reported() {
    let err = Config::parse("[metrics]\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
    assert!(err.to_string().contains("Mars/Olympus"));
}

#[test]
fn http_secrets_come_from_the_environment_and_never_show_in_debug() {
    let c = resolve(
        &[
            ("DESKPULSE_HTTP_BEARER_TOKEN", "tok-1234"),
            ("DESKPULSE_HTTP_BASIC_USER", "prometheus"),
            ("DESKPULSE_HTTP_BASIC_PASSWORD", "pw-5678"),
        ],
        &[],
    )
    .expect("secrets from the environment are taken");
    assert_eq!(
        c.http.bearer_token.as_ref().map(Secret::expose),
        Some("tok-1234")
    );
    assert_eq!(
        c.http.basic_password.as_ref().map(Secret::expose),
        Some("pw-5678")
    );
    let debug = format!("{c:?}");
    for secret in ["tok-1234", "pw-5678"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("<secret>"), "{debug}");
}

#[test]
fn a_literal_http_secret_is_refused_without_quoting_it() {
    for key in ["bearer_token", "basic_password"] {
        for value in ["\"hunter2\"", "12345"] {
            let err = Config::parse(&format!("[http]\n{key} = {value}\n"))
                .expect_err("a secret in the file is refused")
                .to_string();
            assert!(err.contains(&format!("http.{key}")), "{err}");
            assert!(err.contains(&format!("http.{key}_file")), "{err}");
            assert!(!err.contains(value.trim_matches('"')), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        let err = resolve(&[], &[(&format!("http.{key}"), "hunter2")])
            .expect_err("a secret on the command line is refused")
            .to_string();
        assert!(
            err.contains("DESKPULSE_HTTP_") && !err.contains("hunter2"),
            "{err}"
        );
    }
}

#[test]
fn http_settings_that_need_each_other() {
    for (env_pairs, named) in [
        (
            &[("DESKPULSE_HTTP_TLS_CERT_FILE", "/c.pem")][..],
            "http.tls_key_file",
        ),
        (
            &[("DESKPULSE_HTTP_TLS_KEY_FILE", "/k.pem")][..],
            "http.tls_cert_file",
        ),
        (&[("DESKPULSE_HTTP_BASIC_USER", "p")][..], "password"),
        (
            &[("DESKPULSE_HTTP_BASIC_PASSWORD", "x")][..],
            "http.basic_user",
        ),
        (
            &[
                ("DESKPULSE_HTTP_BEARER_TOKEN", "x"),
                ("DESKPULSE_HTTP_BEARER_TOKEN_FILE", "/t"),
            ][..],
            "keep one",
        ),
        (
            &[
                ("DESKPULSE_HTTP_BASIC_USER", "a:b"),
                ("DESKPULSE_HTTP_BASIC_PASSWORD", "x"),
            ][..],
            "colon",
        ),
        (&[("DESKPULSE_HTTP_BEARER_TOKEN", " ")][..], "is empty"),
    ] {
        let err = resolve(env_pairs, &[]).expect_err("refused").to_string();
        assert!(err.contains(named), "{env_pairs:?}: {err}");
    }
    let both = resolve(
        &[
            ("DESKPULSE_HTTP_TLS_CERT_FILE", "/c.pem"),
            ("DESKPULSE_HTTP_TLS_KEY_FILE", "/k.pem"),
        ],
        &[],
    )
    .expect("a pair is taken");
    assert_eq!(both.http.tls_key_file.as_deref(), Some("/k.pem"));
}
