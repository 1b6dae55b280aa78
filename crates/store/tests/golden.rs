//! Golden roots: these hashes pin the node format, the chunking rule and the
//! catalogue format together. If one changes, every state root of every chain
//! changes: do it only with a new format version.

use aergo_store::{build_state, Edit, Hash, Overlay, Store, StoreConfig, TableMeta, TableStore};

fn entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..10_000u32).map(|i| (i.to_be_bytes().to_vec(), vec![(i % 251) as u8; 10])).collect()
}

#[test]
fn golden_tree_root() {
    let store = Store::memory();
    let root = store.build(&entries()).unwrap();
    let stats = store.check_tree(root).unwrap();
    assert_eq!((stats.nodes, stats.height), (GOLDEN_NODES, 2));
    assert_eq!(root.to_hex(), GOLDEN_TREE_ROOT);
    // Same entries through many small batches, in reverse.
    let mut root2 = Hash::ZERO;
    for chunk in entries().chunks(700).rev() {
        let edits: Vec<Edit> = chunk.iter().map(|(k, v)| Edit::put(k.clone(), v.clone())).collect();
        root2 = store.apply(root2, &edits).unwrap();
    }
    assert_eq!(root2, root);
}

#[test]
fn golden_state_root() {
    let store = Store::memory();
    let state = build_state(
        &store,
        &[
            ("accounts", TableMeta { schema: b"id bigint primary key, balance numeric".to_vec() }, entries()),
            ("empty", TableMeta { schema: vec![] }, vec![]),
        ],
    )
    .unwrap();
    assert_eq!(state.to_hex(), GOLDEN_STATE_ROOT);
}

/// The result of a flush must not depend on how many threads applied it.
#[test]
fn flush_is_independent_of_thread_count() {
    let mut roots = Vec::new();
    for threads in [1, 2, 5] {
        let store = Store::with_backend(
            std::sync::Arc::new(aergo_store::MemoryBackend::new()),
            StoreConfig { flush_threads: threads, ..StoreConfig::default() },
        );
        let mut o = Overlay::new(&store, Hash::ZERO);
        for t in 0..7u32 {
            let name = format!("t{t}");
            o.create_table(&name, TableMeta { schema: vec![t as u8] }).unwrap();
            for i in 0..(500 * (t + 1)) {
                o.put(&name, (i * 7 + t).to_be_bytes().to_vec(), vec![t as u8; 12]).unwrap();
            }
        }
        roots.push(o.flush().unwrap());
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
}

const GOLDEN_TREE_ROOT: &str = "e1fb369085cb9ff029973db059b866098a95515a4c97a998c800dcc67de9fe8c";
const GOLDEN_NODES: u64 = 42;
const GOLDEN_STATE_ROOT: &str = "20930a0d93e3909a91a22cb9868dd81dc830b3e32ff3d9635db7ae54c7dcc47c";
