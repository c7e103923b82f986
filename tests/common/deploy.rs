//! Reading the deployment files as their tools do, and putting what they
//! name to the built binary: the command lines, flags, settings,
//! environment variables and mounted files of a container or a pod
//! (tests/deploy_files.rs).

use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_deskpulse");
pub const DOCKERFILE: &str = "deploy/docker/Dockerfile";

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a tool the checks need; they fail, never skip, without it.
pub fn tool(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{program} is not on PATH ({e}): run the tests as `tests/with-broker cargo test`, \
                 which installs Debian's docker-compose and prometheus packages"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        text(&out)
    );
    out
}

pub fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

pub fn yaml(path: &str) -> Value {
    let mut docs = yaml_docs(&read(&repo(path)), path);
    assert_eq!(docs.len(), 1, "{path} holds one YAML document");
    docs.remove(0)
}

pub fn string(v: &Value, what: &str) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("{what} is not a scalar: {other:?}"),
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|items| items.iter().map(|i| string(i, "a list item")).collect())
        .unwrap_or_default()
}

pub fn mapping(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (string(k, "a key"), string(v, "a value")))
                .collect()
        })
        .unwrap_or_default()
}

/// The port of a `host:port` address.
pub fn port_of(address: &str) -> u16 {
    let (_, port) = address
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{address} has no port"));
    port.parse()
        .unwrap_or_else(|e| panic!("port of {address}: {e}"))
}

/// The Dockerfile's instructions, continuation lines joined, keyword first.
pub fn dockerfile() -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read(&repo(DOCKERFILE)).lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            continue;
        }
        current.push_str(line);
        let (keyword, rest) = current.split_once(' ').unwrap_or((&current, ""));
        instructions.push((keyword.to_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    instructions
}

/// The last value of an instruction of the image's final stage.
pub fn runtime(keyword: &str) -> String {
    let instructions = dockerfile();
    let stage = instructions
        .rsplit(|(k, _)| k == "FROM")
        .next()
        .expect("a final stage");
    stage
        .iter()
        .rev()
        .find(|(k, _)| k == keyword)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("{DOCKERFILE}: the final stage has no {keyword}"))
}

/// An exec-form (JSON array) or shell-form instruction's words.
pub fn words(value: &str) -> Vec<String> {
    if value.starts_with('[') {
        serde_json::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}"))
    } else {
        shlex::split(value).unwrap_or_else(|| panic!("{value}: unbalanced quotes"))
    }
}

/// The image's ENTRYPOINT and CMD, as a container that overrides
/// `entrypoint` and `command` (either may be empty) runs them: a new
/// entrypoint drops the image's CMD, as Docker and Kubernetes do.
pub fn argv(entrypoint: Vec<String>, command: Vec<String>) -> Vec<String> {
    let overridden = !entrypoint.is_empty();
    let mut argv = if overridden {
        entrypoint
    } else {
        words(&runtime("ENTRYPOINT"))
    };
    argv.extend(match (command.is_empty(), overridden) {
        (false, _) => command,
        (true, true) => Vec::new(),
        (true, false) => words(&runtime("CMD")),
    });
    argv
}

/// The deskpulse commands of a command line: itself, or those of a
/// `sh -c` script's pipelines and lists.
pub fn deskpulse_commands(argv: &[String]) -> Vec<Vec<String>> {
    let commands: Vec<Vec<String>> = match argv {
        [shell, c, script] if shell.ends_with("sh") && c == "-c" => script
            .split(['|', ';', '&'])
            .filter(|part| !part.trim().is_empty())
            .map(|part| shlex::split(part).unwrap_or_else(|| panic!("{part}: bad quotes")))
            .collect(),
        _ => vec![argv.to_vec()],
    };
    let ours: Vec<Vec<String>> = commands
        .into_iter()
        .filter(|words| words.first().is_some_and(|w| w.ends_with("deskpulse")))
        .collect();
    assert!(!ours.is_empty(), "{argv:?} runs no deskpulse command");
    ours
}

/// A container's file system, as far as deskpulse reads it: its mounts
/// laid out under a temporary directory.
pub struct Root {
    dir: tempfile::TempDir,
    /// Mount point and kind ("bind", "volume", "configMap", "secret",
    /// "emptyDir"), for what a path is served from.
    mounts: Vec<(String, String)>,
}

impl Root {
    pub fn new() -> Root {
        Root {
            dir: tempfile::tempdir().expect("a temporary directory"),
            mounts: Vec::new(),
        }
    }

    pub fn path(&self, container: &str) -> PathBuf {
        self.dir.path().join(container.trim_start_matches('/'))
    }

    pub fn parent_of(&self, container: &str) -> PathBuf {
        let path = self.path(container);
        let parent = path.parent().expect("a parent");
        std::fs::create_dir_all(parent).expect("the mount's parent is created");
        path
    }

    pub fn bind(&mut self, container: &str, host: &Path, kind: &str) {
        assert!(host.exists(), "{kind} source {} is missing", host.display());
        std::os::unix::fs::symlink(host, self.parent_of(container)).expect("the mount is linked");
        self.mounts.push((container.to_owned(), kind.to_owned()));
    }

    pub fn write(&mut self, container: &str, contents: &str, kind: &str) {
        std::fs::write(self.parent_of(container), contents).expect("the mounted file is written");
        self.mounts.push((container.to_owned(), kind.to_owned()));
    }

    pub fn dir(&mut self, container: &str, kind: &str) {
        std::fs::create_dir_all(self.path(container)).expect("the mount is created");
        self.mounts.push((container.to_owned(), kind.to_owned()));
    }

    /// The mount that serves `path` (the longest mount point above it).
    pub fn mount_of(&self, path: &str) -> (&str, &str) {
        self.mounts
            .iter()
            .filter(|(at, _)| Path::new(path).starts_with(at))
            .max_by_key(|(at, _)| at.len())
            .map(|(at, kind)| (at.as_str(), kind.as_str()))
            .unwrap_or_else(|| panic!("{path} is on no mount: {:?}", self.mounts))
    }
}

/// Effective settings, as `check-config` prints them: key to (value, origin).
pub struct Settings(pub BTreeMap<String, (String, String)>);

impl Settings {
    pub fn value(&self, key: &str) -> String {
        self.0
            .get(key)
            .map(|(value, _)| value.trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("check-config shows no {key}"))
    }

    pub fn is_set(&self, key: &str) -> bool {
        self.0.contains_key(key) && !self.value(key).is_empty()
    }
}

pub fn check_config(args: &[String], env: &BTreeMap<String, String>) -> Settings {
    let out = Command::new(BIN)
        .arg("check-config")
        .args(args)
        .env_clear()
        .envs(env)
        .output()
        .expect("check-config runs");
    assert!(
        out.status.success(),
        "check-config {args:?} with {env:?} fails:\n{}",
        text(&out)
    );
    Settings(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let (key, rest) = line.split_once(" = ")?;
                let (value, origin) = rest.rsplit_once("  (")?;
                Some((
                    key.to_owned(),
                    (value.to_owned(), origin.trim_end_matches(')').to_owned()),
                ))
            })
            .collect(),
    )
}

pub fn help(sub: &str) -> Vec<String> {
    let out = Command::new(BIN)
        .args([sub, "--help"])
        .output()
        .expect("deskpulse runs");
    assert!(
        out.status.success(),
        "deskpulse {sub} --help:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.trim_end_matches(',').to_owned())
        .collect()
}

/// Whether `flag` is listed in `help` and takes a value (`--flag <VALUE>`).
pub fn flag_in(help: &[String], flag: &str) -> Option<bool> {
    let at = help.iter().position(|w| w == flag)?;
    Some(help.get(at + 1).is_some_and(|w| w.starts_with('<')))
}

/// The keys a TOML config file sets, as check-config names them.
pub fn toml_keys(prefix: &str, table: &toml::Table, keys: &mut Vec<String>) {
    for (key, value) in table {
        let key = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => toml_keys(&format!("{key}."), inner, keys),
            _ => keys.push(key),
        }
    }
}

/// Checks one deskpulse command line of a deployment file, run with `env`
/// in a container whose files are `root`: every flag is one of its
/// subcommand's, and for `run` and `produce` every setting (file,
/// environment, flags) is accepted by `check-config` and shown as coming
/// from where the deployment sets it. `generate` is run and must write an
/// event. Returns the effective settings.
pub fn check_command(
    argv: &[String],
    env: &BTreeMap<String, String>,
    root: &Root,
) -> Option<Settings> {
    let sub = argv
        .get(1)
        .unwrap_or_else(|| panic!("{argv:?} has no subcommand"));
    let sub_help = help(sub);
    let settings_help = help("check-config");
    let mut settings_args = Vec::new();
    let mut args = argv[2..].iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg
            .starts_with("--")
            .then(|| arg.split('=').next())
            .flatten()
        else {
            panic!("{argv:?}: {arg} is no flag nor a flag's value");
        };
        let takes_value = flag_in(&sub_help, flag)
            .unwrap_or_else(|| panic!("{argv:?}: deskpulse {sub} has no flag {flag}"));
        let value = (takes_value && !arg.contains('=')).then(|| {
            args.next()
                .unwrap_or_else(|| panic!("{argv:?}: {flag} needs a value"))
        });
        if flag_in(&settings_help, flag).is_some() {
            settings_args.push(arg.clone());
            settings_args.extend(value.cloned());
        }
    }
    match sub.as_str() {
        "generate" => {
            let mut child = Command::new(BIN)
                .args(&argv[1..])
                .stdout(Stdio::piped())
                .spawn()
                .expect("generate starts");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout is piped"))
                .read_line(&mut line)
                .expect("generate writes");
            let _ = child.kill();
            let _ = child.wait();
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{argv:?} wrote {line:?}: {e}"));
            assert!(event["event_id"].is_string(), "{argv:?} wrote {line}");
            None
        }
        "run" | "produce" => {
            let mut env = env.clone();
            let config = env.get("DESKPULSE_CONFIG").map(|path| {
                let host = root.path(path);
                assert!(host.is_file(), "DESKPULSE_CONFIG {path} is no mounted file");
                host
            });
            if let Some(host) = &config {
                env.insert("DESKPULSE_CONFIG".into(), host.display().to_string());
            }
            let settings = check_config(&settings_args, &env);
            for name in env
                .keys()
                .filter(|n| n.starts_with("DESKPULSE_") && *n != "DESKPULSE_CONFIG")
            {
                let origin = format!("environment variable {name}");
                assert!(
                    settings.0.values().any(|(_, o)| *o == origin),
                    "{name} sets nothing that check-config shows"
                );
            }
            if let Some(host) = config {
                let table: toml::Table = read(&host)
                    .parse()
                    .unwrap_or_else(|e| panic!("{}: {e}", host.display()));
                let mut keys = Vec::new();
                toml_keys("", &table, &mut keys);
                for key in keys {
                    let origin = settings.0.get(&key).map(|(_, o)| o.as_str());
                    assert!(
                        origin.is_some_and(|o| o.starts_with("file ")),
                        "{key} of {} is shown as {origin:?}",
                        host.display()
                    );
                }
            }
            Some(settings)
        }
        other => panic!("{argv:?}: no check for deskpulse {other} in a deployment"),
    }
}

/// The HEALTHCHECK's URL, split into its port and path.
pub fn healthcheck() -> (u16, String) {
    let check = runtime("HEALTHCHECK");
    let (_, cmd) = check.split_once("CMD ").expect("HEALTHCHECK ... CMD [...]");
    let url = words(cmd)
        .into_iter()
        .find_map(|w| w.strip_prefix("http://").map(str::to_owned))
        .expect("the HEALTHCHECK asks a URL");
    let (address, path) = url.split_once('/').expect("a URL with a path");
    (port_of(address), format!("/{path}"))
}

/// The numeric user of the image's USER, never root.
pub fn image_uid() -> u64 {
    let user = runtime("USER");
    let uid = user.split(':').next().unwrap_or_default();
    let uid: u64 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {user}: numeric, for runAsNonRoot"));
    assert_ne!(uid, 0, "the image runs as root");
    uid
}

/// The files of a folder with an extension; there must be some.
pub fn files_in(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    assert!(
        !files.is_empty(),
        "no .{extension} file in {}",
        dir.display()
    );
    files
}

pub const KUBERNETES: &str = "deploy/kubernetes";

/// The resources `kubectl apply -k deploy/kubernetes` would send.
pub fn kustomized() -> Vec<Value> {
    let dir = repo(KUBERNETES);
    let out = tool("kubectl", &["kustomize", dir.to_str().expect("UTF-8")]);
    yaml_docs(&String::from_utf8_lossy(&out.stdout), "kubectl kustomize")
}

pub fn resource<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} in {KUBERNETES}"))
}

pub fn of_kind<'a>(docs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    docs.iter()
        .filter(move |d| d["kind"].as_str() == Some(kind))
}

/// A Secret's keys and values; values in `stringData`, so that the
/// shipped placeholders read as what they are.
pub fn secret_data(docs: &[Value], name: &str) -> BTreeMap<String, String> {
    let secret = resource(docs, "Secret", name);
    assert!(
        secret["data"].is_null(),
        "Secret {name}: stringData, not base64 data"
    );
    mapping(&secret["stringData"])
}

/// Whether every label of `selector` is one of `labels`.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let labels = mapping(labels);
    let selector = mapping(selector);
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The Deployment's pod template and its (one) container.
pub fn pod(docs: &[Value]) -> (Value, Value) {
    let deployment = of_kind(docs, "Deployment").next().expect("a Deployment");
    let pod = deployment["spec"]["template"].clone();
    assert!(
        selects(
            &deployment["spec"]["selector"]["matchLabels"],
            &pod["metadata"]["labels"]
        ),
        "the Deployment selects its pods"
    );
    let [container] = &pod["spec"]["containers"].as_sequence().expect("containers")[..] else {
        panic!("one container in the pod");
    };
    let container = container.clone();
    (pod, container)
}

/// The Deployment's deskpulse container checked as a pod would run it.
/// Returns the pod template, the container and its settings.
pub fn deployment(docs: &[Value]) -> (Value, Value, Settings, Root) {
    let (pod, container) = pod(docs);
    let volumes = pod["spec"]["volumes"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    let mut root = Root::new();
    for mount in container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
    {
        let at = string(&mount["mountPath"], "mountPath");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume for the mount at {at}"));
        let (kind, files) = if let Some(name) = volume["configMap"]["name"].as_str() {
            (
                "configMap",
                mapping(&resource(docs, "ConfigMap", name)["data"]),
            )
        } else if let Some(name) = volume["secret"]["secretName"].as_str() {
            ("secret", secret_data(docs, name))
        } else {
            assert!(
                !volume["emptyDir"].is_null(),
                "volume at {at}: configMap, secret or emptyDir"
            );
            root.dir(&at, "emptyDir");
            continue;
        };
        match mount["subPath"].as_str() {
            Some(key) => root.write(
                &at,
                files
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}: no key {key}")),
                kind,
            ),
            None => {
                for (key, contents) in &files {
                    root.write(&format!("{at}/{key}"), contents, kind);
                }
            }
        }
    }
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().cloned().unwrap_or_default() {
        let name = string(&var["name"], "an env name");
        let from = &var["valueFrom"]["secretKeyRef"];
        let value = if from.is_null() {
            string(&var["value"], &name)
        } else {
            let secret = secret_data(docs, &string(&from["name"], "secret"));
            secret[&string(&from["key"], "key")].clone()
        };
        env.insert(name, value);
    }
    let line = argv(strings(&container["command"]), strings(&container["args"]));
    let [command] = &deskpulse_commands(&line)[..] else {
        panic!("the container runs one deskpulse command: {line:?}");
    };
    assert_eq!(command[1], "run");
    let settings = check_command(command, &env, &root).expect("run has settings");
    (pod, container, settings, root)
}
