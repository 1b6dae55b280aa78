//! `aergo horde manifests` and what operators run it with: the manifests
//! for 4 and 21 nodes, for Compose and Kubernetes, read back as YAML (with
//! PyYAML, from the SDK environment `.ci/sdk-setup` makes) and checked for
//! what would break a deployment: every Secret, ConfigMap, Service, volume
//! and file they name exists; ports match each node's `config.toml`; every
//! bootstrap address names a real peer at its real port with its real peer
//! id; the genesis inside is the one whose producers the keys are; the
//! disruption budget keeps a BFT quorum. `kubectl kustomize` builds the
//! Kubernetes folder where kubectl is installed. The Grafana dashboard's
//! every query names a metric a real node exports.
//!
//! A container engine test (the image built, a 4-node Compose network, the
//! LIB advancing) runs where `docker` has a running daemon, and says it is
//! skipped otherwise.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use aergo_crypto::PrivateKey;
use aergo_node::NodeConfig;
use common::{aergo_json, tool, NodeProc};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every YAML document of `path`, as JSON values.
fn yaml_docs(python: &str, path: &Path) -> Vec<Value> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))",
        ])
        .arg(path)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{} is not YAML: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("JSON from python")
}

fn one(python: &str, path: &Path) -> Value {
    let mut docs = yaml_docs(python, path);
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

fn peer_id_of_key(hex_key: &str) -> String {
    let bytes = hex::decode(hex_key.trim()).expect("a hex key");
    PrivateKey::from_bytes(&bytes).expect("a key").public_key().peer_id()
}

/// What every target shares: configs, bootstrap lists and the genesis.
struct Made {
    dir: PathBuf,
    deployment: Value,
    configs: Vec<NodeConfig>,
}

fn make(dir: &Path, target: &str, nodes: u32, producers: u32) -> Made {
    let d = aergo_json(&[
        "--json",
        "horde",
        "manifests",
        "--target",
        target,
        "--nodes",
        &nodes.to_string(),
        "--producers",
        &producers.to_string(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(d["nodes"].as_array().unwrap().len(), nodes as usize, "{d}");
    let configs: Vec<NodeConfig> = (0..nodes)
        .map(|i| NodeConfig::load(&dir.join(format!("nodes/node{i}/config.toml"))).expect("a valid config"))
        .collect();
    for f in d["files"].as_array().unwrap() {
        assert!(dir.join(f.as_str().unwrap()).exists(), "listed but absent: {f}");
    }
    Made { dir: dir.to_path_buf(), deployment: d, configs }
}

/// Checks that hold whatever the target; `hosts` maps each bootstrap host
/// name to the node index it reaches; `keys` holds each node's key (hex).
fn check_common(m: &Made, producers: usize, hosts: &BTreeMap<String, usize>, keys: &[String]) {
    let nodes = m.deployment["nodes"].as_array().unwrap();
    let peer_ids: Vec<String> = keys.iter().map(|k| peer_id_of_key(k)).collect();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(n["peerId"].as_str().unwrap(), peer_ids[i], "node{i}'s key is the peer id it is known by");
        assert_eq!(n["producer"].as_bool().unwrap(), i < producers);
    }
    // The genesis producers are the first keys.
    let text = std::fs::read_to_string(m.dir.join("genesis.json")).unwrap();
    let genesis = aergo_types::Genesis::from_json(&text).expect("a valid genesis");
    assert_eq!(genesis.bps, peer_ids[..producers].to_vec(), "the genesis producers are the first keys");
    // Every bootstrap entry reaches another node, at its p2p port, by its id.
    for (i, c) in m.configs.iter().enumerate() {
        assert!(c.p2p.enabled);
        assert_eq!(c.p2p.bootstrap.len(), nodes.len() - 1, "node{i} bootstraps from every other node");
        for b in &c.p2p.bootstrap {
            let parts: Vec<&str> = b.split('/').collect();
            // ["", "dns4", host, "tcp", port, "p2p", id]
            assert_eq!((parts[1], parts[3], parts[5]), ("dns4", "tcp", "p2p"), "{b}");
            let j = *hosts.get(parts[2]).unwrap_or_else(|| panic!("node{i}: {b} names no node"));
            assert_ne!(i, j, "node{i} bootstraps from itself");
            let listen_port = m.configs[j].p2p.listen.rsplit('/').next().unwrap();
            assert_eq!(parts[4], listen_port, "{b}: node{j} listens on {listen_port}");
            assert_eq!(parts[6], peer_ids[j], "{b}: node{j}'s peer id");
        }
    }
}

fn python() -> Option<String> {
    let py = tool("AERGO_SDK_PYTHON")?;
    let ok = Command::new(&py).args(["-c", "import yaml"]).status().is_ok_and(|s| s.success());
    assert!(ok, "{py} has no PyYAML: run .ci/sdk-setup");
    Some(py)
}

fn check_compose(py: &str, m: &Made, producers: usize) {
    let compose = one(py, &m.dir.join("docker-compose.yml"));
    let services = compose["services"].as_object().unwrap();
    let nodes = m.deployment["nodes"].as_array().unwrap();
    let mut hosts = BTreeMap::new();
    let mut keys = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let name = n["name"].as_str().unwrap();
        let svc = &services[name];
        assert!(svc.is_object(), "no service {name}");
        hosts.insert(svc["hostname"].as_str().unwrap().to_string(), i);
        // Volumes: named ones are declared, bind mounts exist.
        for v in svc["volumes"].as_array().unwrap() {
            let src = v.as_str().unwrap().split(':').next().unwrap();
            if let Some(rel) = src.strip_prefix("./") {
                assert!(m.dir.join(rel).exists(), "{name} mounts {src}, which is absent");
            } else {
                assert!(compose["volumes"][src].is_object(), "{name} uses volume {src}, not declared");
            }
        }
        // The key: a declared secret whose file holds the node's key.
        let secret = svc["secrets"][0]["source"].as_str().unwrap();
        let file = compose["secrets"][secret]["file"].as_str().unwrap();
        let key = std::fs::read_to_string(m.dir.join(file.trim_start_matches("./"))).unwrap();
        keys.push(key.trim().to_string());
        // Published ports reach the ports the node's config listens on.
        let c = &m.configs[i];
        let container_ports: Vec<u16> = svc["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(container_ports, vec![c.rpc.listen.port(), c.grpc.listen.port()], "{name}");
        assert!(svc["ports"].as_array().unwrap().iter().all(|p| p.as_str().unwrap().starts_with("127.0.0.1:")));
        assert_eq!(
            svc["environment"]["AERGO_NODE_KEY"].as_str().unwrap(),
            format!("/run/secrets/{}", svc["secrets"][0]["target"].as_str().unwrap())
        );
    }
    check_common(m, producers, &hosts, &keys);
    // Prometheus scrapes every node's JSON-RPC port.
    let prom = one(py, &m.dir.join("prometheus/prometheus.yml"));
    let targets: BTreeSet<String> = prom["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> =
        hosts.iter().map(|(h, i)| format!("{h}:{}", m.configs[*i].rpc.listen.port())).collect();
    assert_eq!(targets, expected);
    for f in ["grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/dashboards/aergo.yml"] {
        one(py, &m.dir.join(f));
    }
    // Keys are closed to other users on the host.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(m.dir.join("secrets")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}

fn check_kubernetes(py: &str, m: &Made, producers: usize) {
    let mut objects: BTreeMap<(String, String), Value> = BTreeMap::new();
    let kustomization = one(py, &m.dir.join("kustomization.yaml"));
    for f in kustomization["resources"].as_array().unwrap() {
        for doc in yaml_docs(py, &m.dir.join(f.as_str().unwrap())) {
            let kind = doc["kind"].as_str().unwrap().to_string();
            let name = doc["metadata"]["name"].as_str().unwrap().to_string();
            assert!(doc["apiVersion"].is_string(), "{kind}/{name}");
            assert!(objects.insert((kind.clone(), name.clone()), doc).is_none(), "{kind}/{name} twice");
        }
    }
    let get = |kind: &str, name: &str| -> &Value {
        objects.get(&(kind.to_string(), name.to_string())).unwrap_or_else(|| panic!("no {kind}/{name}"))
    };
    let nodes = m.deployment["nodes"].as_array().unwrap();
    let mut hosts = BTreeMap::new();
    let mut keys = Vec::new();
    let sets: Vec<&Value> = objects.iter().filter(|((k, _), _)| k == "StatefulSet").map(|(_, v)| v).collect();
    assert_eq!(sets.len(), nodes.len(), "one StatefulSet per node");
    let config_map = get("ConfigMap", "aergo-config");
    let genesis_file = std::fs::read_to_string(m.dir.join("genesis.json")).unwrap();
    assert_eq!(config_map["data"]["genesis.json"].as_str().unwrap(), genesis_file, "the genesis inside is the one");
    for set in &sets {
        let name = set["metadata"]["name"].as_str().unwrap();
        let spec = &set["spec"];
        assert_eq!(spec["replicas"], 1);
        let service = get("Service", spec["serviceName"].as_str().unwrap());
        assert_eq!(service["spec"]["clusterIP"], "None", "{name}'s service is headless");
        let pod = &spec["template"];
        let labels = pod["metadata"]["labels"].as_object().unwrap();
        for (k, v) in spec["selector"]["matchLabels"].as_object().unwrap() {
            assert_eq!(labels.get(k), Some(v), "{name}: the selector matches its pods");
        }
        for (k, v) in service["spec"]["selector"].as_object().unwrap() {
            assert_eq!(labels.get(k), Some(v), "the headless service selects {name}'s pod");
        }
        let node = labels["aergo.io/node"].as_str().unwrap();
        let i: usize = node.trim_start_matches("node").parse().unwrap();
        hosts.insert(format!("{name}-0.{}", spec["serviceName"].as_str().unwrap()), i);
        let c = &pod["spec"]["containers"][0];
        let env: BTreeMap<&str, &str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
            .collect();
        // Volumes resolve; the config and key files the entry point reads
        // are in them.
        let mut mounts = BTreeMap::new();
        for vm in c["volumeMounts"].as_array().unwrap() {
            mounts.insert(vm["name"].as_str().unwrap(), vm["mountPath"].as_str().unwrap());
        }
        let claims: Vec<&str> = spec["volumeClaimTemplates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["metadata"]["name"].as_str().unwrap())
            .collect();
        let mut key_hex = None;
        for (vol_name, path) in &mounts {
            let vol = pod["spec"]["volumes"].as_array().unwrap().iter().find(|v| v["name"] == *vol_name);
            match vol {
                Some(v) if v["configMap"].is_object() => {
                    let cm = get("ConfigMap", v["configMap"]["name"].as_str().unwrap());
                    let file = env["AERGO_CONFIG"].strip_prefix(&format!("{path}/")).expect("config under the mount");
                    let text = cm["data"][file].as_str().unwrap_or_else(|| panic!("{name}: no {file} in the map"));
                    let on_disk = std::fs::read_to_string(m.dir.join(format!("nodes/node{i}/config.toml"))).unwrap();
                    assert_eq!(text, on_disk, "{name}'s config is node{i}'s");
                    assert!(env["AERGO_GENESIS"].starts_with(path));
                }
                Some(v) if v["secret"].is_object() => {
                    let secret = get("Secret", v["secret"]["secretName"].as_str().unwrap());
                    let file = env["AERGO_NODE_KEY"].strip_prefix(&format!("{path}/")).expect("key under the mount");
                    key_hex = Some(secret["stringData"][file].as_str().unwrap().to_string());
                    assert_eq!(secret["metadata"]["labels"]["aergo.io/node"], node, "{name} mounts its own key");
                }
                Some(other) => panic!("{name}: unexpected volume {other}"),
                None => assert!(claims.contains(vol_name), "{name}: volume {vol_name} is neither declared nor claimed"),
            }
        }
        keys.push((i, key_hex.expect("a key volume")));
        // Ports and probes.
        let ports: BTreeMap<&str, u64> = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["containerPort"].as_u64().unwrap()))
            .collect();
        let cfg = &m.configs[i];
        assert_eq!(ports["rpc"], u64::from(cfg.rpc.listen.port()));
        assert_eq!(ports["grpc"], u64::from(cfg.grpc.listen.port()));
        assert_eq!(ports["p2p"].to_string(), cfg.p2p.listen.rsplit('/').next().unwrap());
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            let p = &c[probe];
            let port = p["httpGet"]["port"].as_str().or(p["tcpSocket"]["port"].as_str()).unwrap();
            assert!(ports.contains_key(port), "{name}: {probe} names port {port}");
        }
        assert!(c["resources"]["requests"].is_object() && c["resources"]["limits"].is_object());
        assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
        for svc in objects.iter().filter(|((k, _), _)| k == "Service").map(|(_, v)| v) {
            for p in svc["spec"]["ports"].as_array().unwrap() {
                assert!(ports.contains_key(p["targetPort"].as_str().unwrap()), "service port {p}");
            }
        }
    }
    keys.sort();
    let keys: Vec<String> = keys.into_iter().map(|(_, k)| k).collect();
    check_common(m, producers, &hosts, &keys);
    // Keys are only in Secrets: no ConfigMap holds one.
    for k in &keys {
        assert!(!config_map.to_string().contains(k.as_str()), "a key in the ConfigMap");
    }
    // The budget keeps more than two thirds of the producers.
    let pdb = get("PodDisruptionBudget", "aergo-producers");
    assert_eq!(pdb["spec"]["minAvailable"].as_u64().unwrap() as usize, producers * 2 / 3 + 1);
    let selected = sets
        .iter()
        .filter(|s| {
            let labels = &s["spec"]["template"]["metadata"]["labels"];
            pdb["spec"]["selector"]["matchLabels"].as_object().unwrap().iter().all(|(k, v)| labels[k] == *v)
        })
        .count();
    assert_eq!(selected, producers, "the budget covers exactly the producers");
    // kubectl builds the folder (offline) where it is installed.
    match Command::new("kubectl").arg("kustomize").arg(&m.dir).output() {
        Ok(out) => assert!(out.status.success(), "kubectl kustomize: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => eprintln!("SKIPPED: kubectl is not installed; `kubectl kustomize` not run"),
    }
}

#[test]
fn manifests_for_4_and_21_nodes_hold_together() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (target, nodes, producers) in
        [("compose", 4, 4), ("kubernetes", 4, 4), ("compose", 21, 21), ("kubernetes", 21, 17)]
    {
        let dir = tmp.path().join(format!("{target}-{nodes}"));
        let m = make(&dir, target, nodes, producers);
        match target {
            "compose" => check_compose(&py, &m, producers as usize),
            _ => check_kubernetes(&py, &m, producers as usize),
        }
    }
}

#[test]
fn manifests_refuse_bad_requests_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for (args, expect) in [
        (vec!["--target", "swarm"], "expected compose or kubernetes"),
        (vec!["--target", "compose", "--nodes", "0"], "--nodes"),
        (vec!["--target", "compose", "--nodes", "4", "--producers", "5"], "--producers"),
        (vec!["--target", "kubernetes", "--image", "bad image"], "--image"),
    ] {
        let mut all = vec!["horde", "manifests", "--out", out.to_str().unwrap()];
        all.extend(args);
        let err = common::aergo_fails(&all);
        assert!(err.contains(expect), "{all:?}: {err}");
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "{all:?} wrote files");
    }
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "x").unwrap();
    let err = common::aergo_fails(&["horde", "manifests", "--target", "compose", "--out", out.to_str().unwrap()]);
    assert!(err.contains("is not empty"), "{err}");
}

/// The sample names a `/metrics` exposition carries, and those its
/// `# TYPE` lines declare (a labelled family may have no sample yet):
/// counters as `_total`, histograms as `_bucket`, `_sum`, `_count`, info
/// as `_info`.
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for l in text.lines() {
        if let Some(decl) = l.strip_prefix("# TYPE ") {
            let mut it = decl.split(' ');
            let (Some(name), Some(kind)) = (it.next(), it.next()) else { continue };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                "info" => &["_info"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
        } else if !l.starts_with('#') && !l.is_empty() {
            names.extend(l.split(['{', ' ']).next().map(str::to_string));
        }
    }
    names
}

#[test]
fn every_dashboard_query_names_an_exported_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProc::dev(&tmp.path().join("dev"));
    // One transfer and a JSON-RPC call or two, so the labelled series exist.
    let to = aergo_client::keys::dev_account(1).unwrap().address().to_string();
    aergo_json(&["--rpc", &node.url, "--json", "send", "--from", "dev:0", "--to", &to, "--amount", "1 aer", "--wait"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let text = rt.block_on(async {
        let resp = reqwest::get(format!("{}/metrics", node.url)).await.unwrap();
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        resp.text().await.unwrap()
    });
    let names = exported(&text);
    for required in
        ["aergo_build_info", "aergo_height", "aergo_rpc_request_duration_seconds_bucket", "process_open_fds"]
    {
        assert!(names.contains(required), "{required} not exported:\n{text}");
    }
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("deploy/grafana/aergo-dashboard.json")).unwrap())
            .unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "a dashboard of the node's figures");
    let mut checked = 0;
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let idents: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("aergo_") || w.starts_with("process_"))
                .collect();
            assert!(!idents.is_empty(), "panel {:?}: {expr} names no metric", p["title"]);
            for id in idents {
                assert!(names.contains(id), "panel {:?} queries {id}, which the node does not export", p["title"]);
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "{checked} metric references checked");
}

/// The image and a 4-node Compose network, where a container engine runs.
#[test]
fn a_compose_network_of_the_image_finalizes_blocks() {
    let engine_up = Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success());
    let compose_up = Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success());
    if !(engine_up && compose_up) {
        eprintln!(
            "SKIPPED: no running Docker engine with Compose on this machine (README says which engines were used)"
        );
        return;
    }
    let tag = format!("aergo-rs:test-{}", std::process::id());
    let build = Command::new("docker").args(["build", "-t", &tag, "."]).current_dir(repo()).status().unwrap();
    assert!(build.success(), "docker build failed");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    aergo_json(&[
        "--json",
        "horde",
        "manifests",
        "--target",
        "compose",
        "--image",
        &tag,
        "--out",
        dir.to_str().unwrap(),
    ]);
    let compose = |args: &[&str]| Command::new("docker").arg("compose").args(args).current_dir(&dir).status().unwrap();
    assert!(compose(&["up", "-d"]).success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let mut lib = 0;
    while std::time::Instant::now() < deadline && lib < 5 {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let rows = common::aergo(&["--json", "horde", "status", "--dir", dir.to_str().unwrap()]);
        if rows.ok {
            lib = rows.json().as_array().unwrap().iter().filter_map(|r| r["lib"].as_u64()).min().unwrap_or(0);
        }
    }
    let _ = compose(&["down", "-v"]);
    assert!(lib >= 5, "the LIB of every node did not pass 5");
}

/// The image's build context (the Dockerfile's `COPY` sources, less
/// `.dockerignore`) holds every file the build reads: each
/// `include_str!`/`include_bytes!` of the crates resolves inside it.
/// (Building the image needs an engine; this catches the usual way a
/// Dockerfile breaks without one.)
#[test]
fn the_image_build_context_holds_what_the_build_reads() {
    let root = repo().canonicalize().unwrap();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let copied: Vec<PathBuf> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            parts[..parts.len() - 1].iter().map(|p| root.join(p)).collect::<Vec<_>>()
        })
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock", "crates", "deploy"] {
        assert!(copied.contains(&root.join(needed)), "the Dockerfile does not copy {needed}");
    }
    let ignored = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for kept in ["crates", "deploy", "Cargo.toml", "Cargo.lock"] {
        assert!(!ignored.lines().any(|l| l.trim() == kept), ".dockerignore drops {kept}");
    }
    let mut checked = 0;
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for mac in ["include_str!(\"", "include_bytes!(\""] {
                for part in text.split(mac).skip(1) {
                    let rel = part.split('"').next().unwrap();
                    let target = path.parent().unwrap().join(rel);
                    let target =
                        target.canonicalize().unwrap_or_else(|_| panic!("{}: {rel} is absent", path.display()));
                    assert!(
                        copied.iter().any(|c| target.starts_with(c)),
                        "{} reads {}, outside the image's build context",
                        path.display(),
                        target.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "{checked} included files checked");
}
