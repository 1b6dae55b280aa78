//! The Kubernetes target: plain manifests and a `kustomization.yaml`
//! (`kubectl apply -k .`).
//!
//! - `configmap.yaml`: ConfigMap `aergo-config` with the genesis and every
//!   node's `config.toml` (`node-K.toml`): nothing secret;
//! - `secrets.yaml`: one Secret per node (`aergo-node-K-key`, key
//!   `node.key`), in a file of its own;
//! - `services.yaml`: the headless Service `aergo` that gives every pod a
//!   stable name (`aergo-K-0.aergo`, what the others bootstrap from; it
//!   publishes pods before they are ready, since a starting node must find
//!   its peers to become ready), and `aergo-rpc`, a ClusterIP Service over
//!   the JSON-RPC and gRPC ports for clients;
//! - `statefulsets.yaml`: one StatefulSet of one replica per node, so each
//!   pod mounts only its own key (one StatefulSet for all nodes would mount
//!   every key in every pod); persistent volume claims for the data
//!   directory, readiness on `/health` (503 while syncing), liveness on
//!   the JSON-RPC port (a syncing node is alive), a startup probe for slow
//!   disks, resource requests and limits, non-root, read-only root file
//!   system, no privilege escalation, Prometheus scrape annotations; the
//!   key mounted read-only, readable by the pod's group (`fsGroup`) only;
//! - `pdb.yaml`: a PodDisruptionBudget keeping more than two thirds of
//!   the producers up (BFT finality's quorum) through voluntary disruptions
//!   such as node drains. With 3 producers or fewer that is all of them, so
//!   a drain waits: losing one would stop finality. The role labels come
//!   from the genesis; after elections change the producer set, relabel
//!   the pods (`aergo.io/role`) so the budget follows.

use serde_json::{json, Value};

use aergo_client::Result;

use super::{yaml, DeploySpec, Deployment, Files, GRPC_PORT, P2P_PORT, RPC_PORT};

/// The headless Service's name (the pods' DNS subdomain).
pub const HEADLESS_SERVICE: &str = "aergo";
pub const RPC_SERVICE: &str = "aergo-rpc";
pub const CONFIG_MAP: &str = "aergo-config";
/// A node's pod: the only replica of its StatefulSet `aergo-K`.
pub fn pod_name(index: usize) -> String {
    format!("{}-0", statefulset_name(index))
}
pub fn statefulset_name(index: usize) -> String {
    format!("aergo-{index}")
}
pub fn secret_name(index: usize) -> String {
    format!("aergo-node-{index}-key")
}
/// The data directory's claim size.
pub const DATA_VOLUME_SIZE: &str = "20Gi";
pub const UID: u32 = 10001;

fn labels(index: usize, producer: bool) -> Value {
    json!({
        "app": "aergo",
        "aergo.io/node": format!("node{index}"),
        "aergo.io/role": if producer { "producer" } else { "candidate" },
    })
}

pub fn config_map(d: &Deployment, genesis_json: &str, configs: &[String]) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("genesis.json".into(), json!(genesis_json));
    for (i, c) in configs.iter().enumerate() {
        data.insert(format!("node-{i}.toml"), json!(c));
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": CONFIG_MAP, "labels": { "app": "aergo", "aergo.io/chain": d.chain } },
        "data": data,
    })
}

pub fn secrets(d: &Deployment) -> Vec<Value> {
    d.nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": { "name": secret_name(i), "labels": labels(i, n.producer) },
                // stringData: the API server stores it base64-encoded.
                "stringData": { "node.key": n.key.0 },
            })
        })
        .collect()
}

pub fn services() -> Vec<Value> {
    let ports = json!([
        { "name": "rpc", "port": RPC_PORT, "targetPort": "rpc" },
        { "name": "grpc", "port": GRPC_PORT, "targetPort": "grpc" },
        { "name": "p2p", "port": P2P_PORT, "targetPort": "p2p" },
    ]);
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": HEADLESS_SERVICE, "labels": { "app": "aergo" } },
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": true,
                "selector": { "app": "aergo" },
                "ports": ports,
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": RPC_SERVICE, "labels": { "app": "aergo" } },
            "spec": {
                "type": "ClusterIP",
                // A client stays on one node, so it never reads a head
                // lower than one it has seen.
                "sessionAffinity": "ClientIP",
                "selector": { "app": "aergo" },
                "ports": [
                    { "name": "rpc", "port": RPC_PORT, "targetPort": "rpc" },
                    { "name": "grpc", "port": GRPC_PORT, "targetPort": "grpc" },
                ],
            },
        }),
    ]
}

pub fn statefulset(d: &Deployment, index: usize) -> Value {
    let n = &d.nodes[index];
    let labels = labels(index, n.producer);
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": statefulset_name(index), "labels": labels },
        "spec": {
            "serviceName": HEADLESS_SERVICE,
            "replicas": 1,
            "selector": { "matchLabels": { "app": "aergo", "aergo.io/node": format!("node{index}") } },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": RPC_PORT.to_string(),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        // No recursive chown of a large volume at every start.
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": { "type": "RuntimeDefault" },
                    },
                    "terminationGracePeriodSeconds": 30,
                    // The node calls no Kubernetes API.
                    "automountServiceAccountToken": false,
                    // Spread producers over machines, so one machine's
                    // failure takes as few as possible (soft: a small
                    // cluster still schedules them).
                    "topologySpreadConstraints": [{
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": { "matchLabels": { "app": "aergo", "aergo.io/role": labels["aergo.io/role"] } },
                    }],
                    "containers": [{
                        "name": "node",
                        "image": d.image,
                        "args": ["node", "--dir", "/data"],
                        "env": [
                            { "name": "AERGO_GENESIS", "value": "/etc/aergo/genesis.json" },
                            { "name": "AERGO_CONFIG", "value": format!("/etc/aergo/node-{index}.toml") },
                            { "name": "AERGO_NODE_KEY", "value": "/etc/aergo-key/node.key" },
                            { "name": "RUST_LOG", "value": "info" },
                            { "name": "AERGO_LOG_FORMAT", "value": "json" },
                        ],
                        "ports": [
                            { "name": "rpc", "containerPort": RPC_PORT },
                            { "name": "grpc", "containerPort": GRPC_PORT },
                            { "name": "p2p", "containerPort": P2P_PORT },
                        ],
                        "readinessProbe": {
                            "httpGet": { "path": "/health", "port": "rpc" },
                            "periodSeconds": 5,
                            "failureThreshold": 3,
                        },
                        "livenessProbe": {
                            "tcpSocket": { "port": "rpc" },
                            "periodSeconds": 10,
                            "failureThreshold": 6,
                        },
                        "startupProbe": {
                            "tcpSocket": { "port": "rpc" },
                            "periodSeconds": 5,
                            "failureThreshold": 60,
                        },
                        "resources": {
                            "requests": { "cpu": "500m", "memory": "512Mi" },
                            "limits": { "cpu": "2", "memory": "2Gi" },
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": { "drop": ["ALL"] },
                        },
                        "volumeMounts": [
                            { "name": "data", "mountPath": "/data" },
                            { "name": "config", "mountPath": "/etc/aergo", "readOnly": true },
                            { "name": "key", "mountPath": "/etc/aergo-key", "readOnly": true },
                        ],
                    }],
                    "volumes": [
                        { "name": "config", "configMap": { "name": CONFIG_MAP } },
                        { "name": "key", "secret": { "secretName": secret_name(index), "defaultMode": 0o440 } },
                    ],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": DATA_VOLUME_SIZE } },
                },
            }],
        },
    })
}

pub fn pdb(d: &Deployment) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": { "name": "aergo-producers", "labels": { "app": "aergo" } },
        "spec": {
            "minAvailable": d.quorum(),
            "selector": { "matchLabels": { "app": "aergo", "aergo.io/role": "producer" } },
        },
    })
}

pub fn write(
    files: &mut Files,
    _spec: &DeploySpec,
    d: &Deployment,
    genesis_json: &str,
    configs: &[String],
) -> Result<()> {
    files.write("configmap.yaml", &yaml::to_yaml(&config_map(d, genesis_json, configs)))?;
    files.write_private("secrets.yaml", &yaml::to_yaml_stream(&secrets(d)))?;
    files.write("services.yaml", &yaml::to_yaml_stream(&services()))?;
    let sets: Vec<Value> = (0..d.nodes.len()).map(|i| statefulset(d, i)).collect();
    files.write("statefulsets.yaml", &yaml::to_yaml_stream(&sets))?;
    files.write("pdb.yaml", &yaml::to_yaml(&pdb(d)))?;
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["configmap.yaml", "secrets.yaml", "services.yaml", "statefulsets.yaml", "pdb.yaml"],
    });
    files.write("kustomization.yaml", &yaml::to_yaml(&kustomization))?;
    Ok(())
}
