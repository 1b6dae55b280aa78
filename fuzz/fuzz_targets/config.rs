//! The node's configuration file (TOML) as an operator or a setup script
//! writes it: parsed, validated, turned into the limits the node runs
//! with, its p2p addresses parsed and checked as the network would at
//! start; a valid configuration round-trips through its TOML form.
#![no_main]

use aergo_net::{Multiaddr, NetConfig};
use aergo_node::NodeConfig;
use libfuzzer_sys::fuzz_target;
use std::str::FromStr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = toml::from_str::<NodeConfig>(text) else { return };
    let again: NodeConfig = toml::from_str(&config.to_toml()).expect("a parsed config re-parses");
    assert_eq!(again, config);
    if config.validate().is_err() {
        return;
    }
    let _ = config.rpc_limits();
    let _ = config.pool_config();
    let _ = config.query.limits();
    let listen = Multiaddr::from_str(&config.p2p.listen);
    let bootstrap: Result<Vec<Multiaddr>, _> = config.p2p.bootstrap.iter().map(|b| Multiaddr::from_str(b)).collect();
    for b in bootstrap.iter().flatten() {
        let _ = aergo_net::bootstrap_peer_id(b);
    }
    if let (Ok(listen), Ok(bootstrap)) = (listen, bootstrap) {
        let mut net = NetConfig::new(aergo_crypto::dev_key("fuzz", 0), aergo_types::ChainId::dev().hash());
        net.listen_addrs = vec![listen];
        net.bootstrap = bootstrap;
        net.limits.max_peers = config.p2p.max_peers;
        let _ = net.validate();
    }
});
