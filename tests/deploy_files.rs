//! The deployment files (deploy/docker/, deploy/compose/, deploy/kubernetes/)
//! cannot start here: no container runtime or cluster runs. So each is read
//! the way its tool reads it (`docker-compose config`, `kubectl kustomize`,
//! `promtool check config`), and every deskpulse command line, flag,
//! environment variable, setting, mounted file, port and HTTP path in it is
//! put to the built binary: the command lines' flags against its `--help`,
//! the settings through `check-config` with the container's environment
//! and its mounted files laid out in a temporary directory, the paths
//! against a running demo.

mod common;
#[path = "common/deploy.rs"]
mod deploy;

use common::kafka::Deskpulse;
use common::prometheus::{promtool, rule_files};
use deploy::{
    argv, check_command, check_config, deployment, deskpulse_commands, dockerfile, files_in,
    healthcheck, image_uid, kustomized, mapping, of_kind, pod, port_of, read, repo, runtime,
    secret_data, selects, string, strings, tool, words, yaml, yaml_docs, Root, DOCKERFILE,
    KUBERNETES,
};
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[test]
fn the_image_builds_in_stages_runs_unprivileged_and_checks_healthz() {
    let instructions = dockerfile();
    let stages: Vec<&String> = instructions
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| v)
        .collect();
    assert!(
        stages.len() >= 2,
        "{DOCKERFILE}: a multi-stage build, got {stages:?}"
    );
    let build_stage = stages[0]
        .rsplit_once(" AS ")
        .map(|(_, name)| name.to_owned())
        .expect("the build stage is named");
    // The runtime stage takes the binary from the build stage, and
    // everything else it copies from the build context must be sent there.
    let ignore = read(&repo(".dockerignore"));
    let sent: Vec<&str> = ignore.lines().filter_map(|l| l.strip_prefix('!')).collect();
    let mut from_build = false;
    for (_, copy) in instructions.iter().filter(|(k, _)| k == "COPY") {
        let parts = words(copy);
        if parts[0] == format!("--from={build_stage}") {
            from_build |= parts[1].ends_with("/deskpulse");
            continue;
        }
        for source in &parts[..parts.len() - 1] {
            assert!(repo(source).exists(), "COPY {source}: no such file");
            assert!(
                sent.iter().any(|s| s.trim_end_matches('/') == source),
                "COPY {source}, which .dockerignore does not send"
            );
            if source.ends_with(".toml") && !source.starts_with("Cargo") {
                check_config(std::slice::from_ref(source), &BTreeMap::new());
            }
        }
    }
    assert!(
        from_build,
        "the binary is copied from the {build_stage} stage"
    );
    image_uid();

    // With no config, the image serves on the default http.listen: what
    // EXPOSE and the HEALTHCHECK name.
    let settings = check_command(&argv(vec![], vec![]), &BTreeMap::new(), &Root::new())
        .expect("the image runs deskpulse run");
    let port = port_of(&settings.value("http.listen"));
    let (health_port, health_path) = healthcheck();
    assert_eq!(health_port, port, "HEALTHCHECK port");
    assert_eq!(health_path, "/healthz");
    assert_eq!(runtime("EXPOSE").parse::<u16>().ok(), Some(port), "EXPOSE");
    // state.dir is relative to WORKDIR: the checkpoints land on the VOLUME.
    let state = Path::new(&runtime("WORKDIR")).join(settings.value("state.dir"));
    assert!(
        words(&runtime("VOLUME"))
            .iter()
            .any(|v| state.starts_with(v)),
        "{} is on no VOLUME",
        state.display()
    );
}

/// `docker-compose config` of the compose file: the file as Compose reads
/// it, anchors merged and paths made absolute.
fn compose() -> Value {
    let file = repo("deploy/compose/docker-compose.yml");
    let file = file.to_str().expect("a UTF-8 path");
    tool("docker-compose", &["-f", file, "config", "-q"]);
    let out = tool("docker-compose", &["-f", file, "config"]);
    let mut docs = yaml_docs(
        &String::from_utf8_lossy(&out.stdout),
        "docker-compose config",
    );
    docs.remove(0)
}

/// A compose service's mounts laid out in a [`Root`]; every bind source
/// must exist and every named volume be declared.
fn compose_root(compose: &Value, name: &str) -> Root {
    let mut root = Root::new();
    for volume in strings(&compose["services"][name]["volumes"]) {
        let parts: Vec<&str> = volume.split(':').collect();
        if parts[0].starts_with('/') {
            root.bind(parts[1], Path::new(parts[0]), &format!("bind ({name})"));
        } else {
            assert!(
                compose["volumes"].get(parts[0]).is_some(),
                "{name}: volume {} is not declared",
                parts[0]
            );
            root.dir(parts[1], &format!("volume {}", parts[0]));
        }
    }
    root
}

#[test]
fn the_compose_stack_is_valid_and_every_deskpulse_setting_exists() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    let image = services
        .values()
        .find(|s| s["build"]["dockerfile"].as_str() == Some(DOCKERFILE))
        .and_then(|s| s["image"].as_str())
        .expect("a service builds the image from the Dockerfile")
        .to_owned();
    // Each instance: its name, settings, published ports, state volume.
    let mut instances = Vec::new();
    for (name, service) in services {
        let name = string(name, "a service name");
        let root = compose_root(&compose, &name);
        if service["image"].as_str() != Some(image.as_str()) {
            continue;
        }
        let line = argv(
            strings(&service["entrypoint"]),
            strings(&service["command"]),
        );
        for command in deskpulse_commands(&line) {
            let settings = check_command(&command, &mapping(&service["environment"]), &root);
            if command[1] == "run" {
                let ports: Vec<u16> = service["ports"]
                    .as_sequence()
                    .map(|ports| {
                        ports
                            .iter()
                            .map(|p| string(&p["target"], "target").parse().expect("a port"))
                            .collect()
                    })
                    .unwrap_or_default();
                let settings = settings.expect("run has settings");
                let state = root.mount_of(&settings.value("state.dir")).1.to_owned();
                assert!(
                    service["healthcheck"].is_null(),
                    "{name} keeps the image's HEALTHCHECK"
                );
                instances.push((name.clone(), settings, ports, state));
            }
        }
    }
    assert!(
        instances.len() >= 2,
        "two deskpulse instances, got {}",
        instances.len()
    );
    let groups: BTreeSet<String> = instances
        .iter()
        .map(|(_, s, _, _)| s.value("kafka.group_id"))
        .collect();
    assert_eq!(
        groups.len(),
        1,
        "the instances share one consumer group: {groups:?}"
    );
    let volumes: BTreeSet<&String> = instances.iter().map(|(_, _, _, v)| v).collect();
    assert_eq!(
        volumes.len(),
        instances.len(),
        "each instance has a state volume of its own"
    );
    let mut targets = BTreeSet::new();
    for (name, settings, ports, state) in &instances {
        assert!(
            state.starts_with("volume "),
            "{name}: state.dir is on {state}"
        );
        assert!(
            settings.is_set("state.topic"),
            "{name}: partitions move with their state"
        );
        let port = port_of(&settings.value("http.listen"));
        assert_eq!(ports, &[port], "{name} publishes its http.listen port");
        targets.insert(format!("{name}:{port}"));
        // The brokers are the compose Kafka, in KRaft mode, as it advertises itself.
        for broker in settings.value("kafka.brokers").split(',') {
            let (host, _) = broker.rsplit_once(':').expect("host:port");
            let kafka = &compose["services"][host];
            assert!(
                kafka["image"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("apache/kafka:")),
                "{broker} is no apache/kafka service"
            );
            let env = mapping(&kafka["environment"]);
            assert_eq!(
                env.get("KAFKA_PROCESS_ROLES").map(String::as_str),
                Some("broker,controller"),
                "KRaft"
            );
            assert!(
                env["KAFKA_ADVERTISED_LISTENERS"].contains(&format!("//{broker}")),
                "{broker} is advertised"
            );
        }
    }

    // Prometheus: its config and the shipped rules where the container has
    // them, checked by promtool, and scraping exactly the instances.
    // The name of the service whose image starts with `image`.
    let service_of = |image: &str| {
        services
            .iter()
            .find(|(_, s)| s["image"].as_str().is_some_and(|i| i.starts_with(image)))
            .map(|(name, _)| string(name, "a service name"))
            .unwrap_or_else(|| panic!("a service of the image {image}"))
    };
    let prometheus = service_of("prom/prometheus:");
    let root = compose_root(&compose, &prometheus);
    let config = root.path("/etc/prometheus/prometheus.yml");
    let check = promtool(&["check", "config", config.to_str().expect("UTF-8")], None);
    assert!(
        check.status.success(),
        "promtool check config:\n{}",
        check.report
    );
    // promtool names each rule file it loads, then says how it went.
    let lines: Vec<&str> = check.report.lines().map(str::trim).collect();
    for rules in rule_files() {
        let file = rules
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        assert!(
            lines.windows(2).any(|w| w[0].starts_with("Checking")
                && w[0].ends_with(&format!("/deskpulse/{file}"))
                && w[1].starts_with("SUCCESS")),
            "{file} is not loaded:\n{}",
            check.report
        );
    }
    let scraped: BTreeSet<String> = yaml_docs(&read(&config), "prometheus.yml")[0]
        ["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs")
        .iter()
        .flat_map(|job| {
            job["static_configs"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|targets| strings(&targets["targets"]))
        .collect();
    assert_eq!(
        scraped, targets,
        "Prometheus scrapes every instance on its port"
    );

    // Grafana gets the provisioning and the dashboards where the
    // provisioning's dashboard provider looks.
    let grafana = service_of("grafana/");
    // Grafana: each provisioned dashboard provider reads a mounted folder
    // of dashboards; each datasource is a compose service, on its port.
    let root = compose_root(&compose, &grafana);
    let provisioned = |kind: &str, key: &str| -> Vec<Value> {
        let files = files_in(
            &root.path(&format!("/etc/grafana/provisioning/{kind}")),
            "yml",
        );
        files
            .iter()
            .flat_map(|f| yaml_docs(&read(f), &f.display().to_string()))
            .flat_map(|doc| doc[key].as_sequence().cloned().unwrap_or_default())
            .collect()
    };
    for provider in provisioned("dashboards", "providers") {
        let path = string(&provider["options"]["path"], "a provider's path");
        assert_eq!(root.mount_of(&path).0, path, "Grafana mounts {path}");
        files_in(&root.path(&path), "json");
    }
    for source in provisioned("datasources", "datasources") {
        let url = string(&source["url"], "a datasource's url");
        let address = url.trim_start_matches("http://").trim_end_matches('/');
        let (host, port) = address.rsplit_once(':').expect("host:port");
        let ports: Vec<String> = compose["services"][host]["ports"]
            .as_sequence()
            .unwrap_or_else(|| panic!("datasource {url}: no service {host} with ports"))
            .iter()
            .map(|p| string(&p["target"], "target"))
            .collect();
        assert!(
            ports.iter().any(|p| p == port),
            "datasource {url}: {host} listens on {ports:?}"
        );
    }
}

#[test]
fn the_kubernetes_manifests_run_replicas_in_one_group_with_probes_config_and_secrets() {
    let docs = kustomized();
    let replicas = of_kind(&docs, "Deployment").next().expect("a Deployment")["spec"]["replicas"]
        .as_u64()
        .expect("replicas");
    assert!(replicas >= 2, "replicas in one group: {replicas}");
    let (pod, container, settings, root) = deployment(&docs);
    let port = port_of(&settings.value("http.listen"));

    // Ports: the container's named port, the probes, the annotations and
    // the Services all lead to http.listen.
    let named: BTreeMap<String, u16> = container["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                string(&p["name"], "port name"),
                p["containerPort"].as_u64().expect("containerPort") as u16,
            )
        })
        .collect();
    let resolve = |p: &Value| match p {
        Value::String(name) => *named
            .get(name)
            .unwrap_or_else(|| panic!("no port named {name}")),
        other => other.as_u64().expect("a port") as u16,
    };
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(resolve(&get["port"]), port, "{probe} port");
    }
    let annotations = mapping(&pod["metadata"]["annotations"]);
    assert_eq!(
        annotations.get("prometheus.io/scrape").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        annotations
            .get("prometheus.io/port")
            .map(|p| p.parse::<u16>().ok()),
        Some(Some(port))
    );
    let mut services = BTreeMap::new();
    for service in of_kind(&docs, "Service") {
        let name = string(&service["metadata"]["name"], "name");
        assert!(
            selects(&service["spec"]["selector"], &pod["metadata"]["labels"]),
            "Service {name} selects the pods"
        );
        for p in service["spec"]["ports"].as_sequence().expect("ports") {
            assert_eq!(resolve(&p["targetPort"]), port, "Service {name} port");
        }
        services.insert(name, service.clone());
    }

    // Unprivileged as the image is; the state on a writable volume, and
    // in state.topic since partitions move between replicas.
    let security = &pod["spec"]["securityContext"];
    assert_eq!(security["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        security["runAsUser"].as_u64(),
        Some(image_uid()),
        "the image's user"
    );
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(
        root.mount_of(&settings.value("state.dir")).1,
        "emptyDir",
        "state.dir is writable"
    );
    assert!(
        settings.is_set("state.topic"),
        "replicas hand partitions over with state.topic"
    );
    // The config from the ConfigMap; every file setting names a mounted
    // file, the bearer token one from the Secret.
    let config = mapping(&container["env"][0]);
    assert_eq!(
        config.get("name").map(String::as_str),
        Some("DESKPULSE_CONFIG")
    );
    assert_eq!(root.mount_of(&config["value"]).1, "configMap");
    for (key, _) in settings.0.iter().filter(|(k, _)| k.ends_with("_file")) {
        let path = settings.value(key);
        assert!(
            root.path(&path).is_file(),
            "{key} = {path} is no mounted file"
        );
    }
    let token = settings.value("http.bearer_token_file");
    assert_eq!(
        root.mount_of(&token).1,
        "secret",
        "the bearer token comes from a Secret"
    );

    // The ServiceMonitor scrapes a Service of the pods with the Secret's token.
    let monitor = yaml(&format!("{KUBERNETES}/servicemonitor.yaml"));
    assert_eq!(monitor["kind"].as_str(), Some("ServiceMonitor"));
    let (name, scraped) = services
        .iter()
        .find(|(_, s)| {
            selects(
                &monitor["spec"]["selector"]["matchLabels"],
                &s["metadata"]["labels"],
            )
        })
        .expect("the ServiceMonitor selects a Service");
    assert_eq!(
        scraped["spec"]["publishNotReadyAddresses"].as_bool(),
        Some(true),
        "{name}: pods that are not ready are scraped too"
    );
    for endpoint in monitor["spec"]["endpoints"]
        .as_sequence()
        .expect("endpoints")
    {
        assert!(strings(&Value::Sequence(
            scraped["spec"]["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .map(|p| p["name"].clone())
                .collect()
        ))
        .contains(&string(&endpoint["port"], "port")));
        let credentials = &endpoint["authorization"]["credentials"];
        let secret = secret_data(&docs, &string(&credentials["name"], "secret name"));
        assert!(
            secret.contains_key(&string(&credentials["key"], "key")),
            "the ServiceMonitor's token is in the Secret"
        );
    }
    for pdb in of_kind(&docs, "PodDisruptionBudget") {
        assert!(selects(
            &pdb["spec"]["selector"]["matchLabels"],
            &pod["metadata"]["labels"]
        ));
    }
}

#[test]
fn the_kubernetes_scrape_config_passes_promtool_with_the_secrets_token() {
    let docs = kustomized();
    let file = format!("{KUBERNETES}/prometheus-scrape.yml");
    let mut scrape = yaml(&file);
    // The token file as Prometheus has it from the Secret: named by the
    // Secret's key, relative to the config's directory (as Prometheus
    // resolves it).
    let credentials = string(
        &scrape["scrape_configs"][0]["authorization"]["credentials_file"],
        "credentials_file",
    );
    let key = Path::new(&credentials)
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let [secret] = &of_kind(&docs, "Secret").collect::<Vec<_>>()[..] else {
        panic!("one Secret in {KUBERNETES}");
    };
    let secret = secret_data(&docs, &string(&secret["metadata"]["name"], "name"));
    let mut root = Root::new();
    root.write(
        &format!("/etc/prometheus/{credentials}"),
        secret
            .get(&key)
            .unwrap_or_else(|| panic!("no key {key} in the Secret")),
        "secret",
    );
    // Debian's promtool is built without Kubernetes discovery, so each job
    // is checked with a static target in its place: the rest (relabelling,
    // authorization, the token file) as written.
    for job in scrape["scrape_configs"]
        .as_sequence_mut()
        .expect("scrape_configs")
    {
        let job = job.as_mapping_mut().expect("a job");
        assert!(
            job.remove("kubernetes_sd_configs").is_some(),
            "{file}: pods are discovered"
        );
        let targets: Value =
            serde_yaml_ng::from_str("[{targets: ['10.0.0.1:9750']}]").expect("YAML");
        job.insert("static_configs".into(), targets);
    }
    let config = root.path("/etc/prometheus/prometheus.yml");
    std::fs::write(&config, serde_yaml_ng::to_string(&scrape).expect("YAML")).expect("written");
    let check = promtool(&["check", "config", config.to_str().expect("UTF-8")], None);
    assert!(
        check.status.success(),
        "promtool check config {file}:\n{}",
        check.report
    );
}

#[test]
fn every_probe_and_scrape_path_answers() {
    let (_, container) = pod(&kustomized());
    let mut paths = BTreeSet::from([healthcheck().1]);
    for probe in ["readinessProbe", "livenessProbe"] {
        paths.insert(string(&container[probe]["httpGet"]["path"], probe));
    }
    let monitor = yaml(&format!("{KUBERNETES}/servicemonitor.yaml"));
    paths.extend(
        monitor["spec"]["endpoints"]
            .as_sequence()
            .expect("endpoints")
            .iter()
            .map(|e| string(&e["path"], "path")),
    );
    let compose = yaml("deploy/compose/prometheus.yml");
    paths.extend(
        compose["scrape_configs"]
            .as_sequence()
            .expect("jobs")
            .iter()
            .map(|j| string(&j["metrics_path"], "metrics_path")),
    );
    assert!(paths.len() >= 3, "{paths:?}");
    let demo = Deskpulse::demo(&["--rate", "20", "--partitions", "1"]);
    demo.wait_ready();
    for path in &paths {
        assert_eq!(demo.get(path).status, 200, "GET {path}");
    }
}
