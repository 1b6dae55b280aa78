//! The Docker Compose target: `docker-compose.yml` with one service per
//! node, Prometheus scraping every node, and Grafana with the AERGO
//! dashboard provisioned.
//!
//! Each node service runs the image with the data directory on a named
//! volume, the genesis and its `config.toml` mounted read-only, and its key
//! as a Compose secret (`/run/secrets/node_key`), never in the image or an
//! environment variable; `secrets/` on the host is closed to other users.
//! JSON-RPC and gRPC are published on loopback only.

use serde_json::{json, Map, Value};

use aergo_client::Result;

use super::{yaml, DeploySpec, Deployment, Files, GRPC_PORT, RPC_PORT};

pub const COMPOSE_FILE: &str = "docker-compose.yml";
/// Pinned versions: a deployment made today starts the same tomorrow.
pub const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.53.1";
pub const GRAFANA_IMAGE: &str = "grafana/grafana:11.1.3";

/// Host port of node `index`'s JSON-RPC (its gRPC is the next one).
pub fn host_rpc_port(spec: &DeploySpec, index: usize) -> u16 {
    spec.host_base_port + 2 * index as u16
}

/// The Compose file as data.
pub fn compose_file(spec: &DeploySpec, d: &Deployment) -> Value {
    let mut services = Map::new();
    let mut secrets = Map::new();
    let mut volumes = Map::new();
    for (i, n) in d.nodes.iter().enumerate() {
        let secret = format!("{}_key", n.name);
        let volume = format!("{}-data", n.name);
        let rpc = host_rpc_port(spec, i);
        services.insert(
            n.name.clone(),
            json!({
                "image": d.image,
                "hostname": n.host,
                "restart": "unless-stopped",
                "command": ["node", "--dir", "/data"],
                "environment": {
                    "AERGO_GENESIS": "/etc/aergo/genesis.json",
                    "AERGO_CONFIG": "/etc/aergo/config.toml",
                    "AERGO_NODE_KEY": "/run/secrets/node_key",
                    "RUST_LOG": "info",
                    "AERGO_LOG_FORMAT": "json",
                },
                "volumes": [
                    format!("{volume}:/data"),
                    "./genesis.json:/etc/aergo/genesis.json:ro",
                    format!("./nodes/{}/config.toml:/etc/aergo/config.toml:ro", n.name),
                ],
                "secrets": [ { "source": secret, "target": "node_key" } ],
                "ports": [
                    format!("127.0.0.1:{rpc}:{RPC_PORT}"),
                    format!("127.0.0.1:{}:{GRPC_PORT}", rpc + 1),
                ],
                "labels": { "io.aergo.role": if n.producer { "producer" } else { "candidate" } },
            }),
        );
        secrets.insert(secret, json!({ "file": format!("./secrets/{}.key", n.name) }));
        volumes.insert(volume, json!({}));
    }
    services.insert(
        "prometheus".into(),
        json!({
            "image": PROMETHEUS_IMAGE,
            "restart": "unless-stopped",
            "volumes": ["./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "prometheus-data:/prometheus"],
            "ports": ["127.0.0.1:9090:9090"],
            "depends_on": d.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>(),
        }),
    );
    services.insert(
        "grafana".into(),
        json!({
            "image": GRAFANA_IMAGE,
            "restart": "unless-stopped",
            "environment": {
                // Read-only dashboards for anyone on this machine; change
                // for a shared host.
                "GF_AUTH_ANONYMOUS_ENABLED": "true",
                "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
            },
            "volumes": [
                "./grafana/provisioning:/etc/grafana/provisioning:ro",
                "./grafana/dashboards:/var/lib/grafana/dashboards:ro",
                "grafana-data:/var/lib/grafana",
            ],
            "ports": ["127.0.0.1:3000:3000"],
            "depends_on": ["prometheus"],
        }),
    );
    volumes.insert("prometheus-data".into(), json!({}));
    volumes.insert("grafana-data".into(), json!({}));
    // No project name: Compose takes the folder's, so two deployments on
    // one host never share containers or volumes.
    json!({ "services": services, "secrets": secrets, "volumes": volumes })
}

/// Prometheus scrapes every node's `/metrics` by service name.
pub fn prometheus_config(d: &Deployment) -> Value {
    json!({
        "global": { "scrape_interval": "5s", "evaluation_interval": "15s" },
        "scrape_configs": [{
            "job_name": "aergo",
            "metrics_path": "/metrics",
            "static_configs": [{
                "targets": d.nodes.iter().map(|n| format!("{}:{RPC_PORT}", n.host)).collect::<Vec<_>>(),
            }],
        }],
    })
}

pub fn write(files: &mut Files, spec: &DeploySpec, d: &Deployment) -> Result<()> {
    // Compose without Swarm bind-mounts a secret file as it is (its `mode`
    // is ignored), and the node runs as an unprivileged user: each key is
    // readable (0444) inside a folder only its owner may enter (0700).
    files.make_dir("secrets", 0o700)?;
    for n in &d.nodes {
        files.write_with_mode(&format!("secrets/{}.key", n.name), &n.key.0, 0o444)?;
    }
    files.write(COMPOSE_FILE, &yaml::to_yaml(&compose_file(spec, d)))?;
    files.write("prometheus/prometheus.yml", &yaml::to_yaml(&prometheus_config(d)))?;
    let datasource = json!({
        "apiVersion": 1,
        "datasources": [{
            "name": "Prometheus",
            "uid": "prometheus",
            "type": "prometheus",
            "access": "proxy",
            "url": "http://prometheus:9090",
            "isDefault": true,
        }],
    });
    files.write("grafana/provisioning/datasources/prometheus.yml", &yaml::to_yaml(&datasource))?;
    let dashboards = json!({
        "apiVersion": 1,
        "providers": [{
            "name": "aergo",
            "type": "file",
            "options": { "path": "/var/lib/grafana/dashboards" },
        }],
    });
    files.write("grafana/provisioning/dashboards/aergo.yml", &yaml::to_yaml(&dashboards))?;
    files.write("grafana/dashboards/aergo.json", super::DASHBOARD_JSON)?;
    Ok(())
}
