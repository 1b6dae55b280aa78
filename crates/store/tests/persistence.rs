//! Persistence, refs, corruption and garbage collection, on the redb and
//! memory backends.

use std::sync::Arc;

use aergo_store::node::node_hash;
use aergo_store::{
    Edit, Hash, MemoryBackend, NodeBackend, Overlay, RefUpdate, Snapshot, Store, StoreConfig, StoreError, TableMeta,
    TableStore,
};

fn entries(n: u32, tag: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n).map(|i| (i.to_be_bytes().to_vec(), vec![tag; 16])).collect()
}

#[test]
fn redb_commit_survives_reopen_and_uncommitted_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let (committed, uncommitted) = {
        let store = Store::open(&path).unwrap();
        let root = store.build(&entries(10_000, 1)).unwrap();
        store.commit(&[RefUpdate { name: "main".into(), target: Some(root) }], &[]).unwrap();
        assert_eq!(store.staged_nodes(), 0);
        let other = store.apply(root, &[Edit::put(b"zz".to_vec(), b"new".to_vec())]).unwrap();
        assert!(store.staged_nodes() > 0);
        (root, other)
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.get_ref("main").unwrap(), Some(committed));
    assert_eq!(store.check_tree(committed).unwrap().entries, 10_000);
    assert_eq!(store.get(committed, &7u32.to_be_bytes()).unwrap(), Some(vec![1; 16]));
    match store.get(uncommitted, b"zz") {
        Err(StoreError::MissingNode { hash }) => assert_eq!(hash, uncommitted),
        other => panic!("expected a missing node, got {other:?}"),
    }
}

#[test]
fn refs_and_branches() {
    let store = Store::memory();
    let root = store.build(&entries(50_000, 2)).unwrap();
    store.set_ref("main", root).unwrap();
    let nodes_before = store.backend_usage().unwrap().0;
    assert_eq!(store.branch("main", "feature").unwrap(), root);
    // A branch is a ref: no node is written.
    assert_eq!(store.backend_usage().unwrap().0, nodes_before);
    assert_eq!(store.list_refs().unwrap(), vec![("feature".to_string(), root), ("main".to_string(), root)]);
    store.delete_ref("feature").unwrap();
    assert_eq!(store.get_ref("feature").unwrap(), None);
    assert!(matches!(store.branch("nope", "x"), Err(StoreError::NoSuchRef { .. })));
    assert!(matches!(store.set_ref("", root), Err(StoreError::BadRefName { .. })));
    // A ref to a root that exists nowhere is refused.
    assert!(matches!(store.set_ref("bad", Hash([9; 32])), Err(StoreError::MissingNode { .. })));
}

#[test]
fn corrupt_and_missing_nodes_are_errors_naming_the_hash() {
    let backend = Arc::new(MemoryBackend::new());
    let store = Store::with_backend(backend.clone(), StoreConfig { cache_bytes: 0, ..StoreConfig::default() });
    let root = store.build(&entries(20_000, 3)).unwrap();
    store.set_ref("main", root).unwrap();
    // Corrupt one leaf: flip a byte of the stored bytes.
    let victim = {
        let mut hashes = backend.node_hashes().unwrap();
        hashes.retain(|h| *h != root);
        hashes[hashes.len() / 2]
    };
    let mut bytes = backend.get(&victim).unwrap().unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    backend.put_raw(victim, bytes.clone()).unwrap();
    let err = store.check_tree(root).unwrap_err();
    assert!(matches!(err, StoreError::CorruptNode { hash, .. } if hash == victim), "{err}");
    assert!(err.to_string().contains(&victim.to_string()));
    // Bytes that hash right but do not decode: stored under their true hash
    // and referenced as a root.
    let junk = vec![1u8, 0, 0, 5, 0];
    let junk_hash = node_hash(&junk);
    backend.put_raw(junk_hash, junk).unwrap();
    assert!(matches!(store.get(junk_hash, b"k"), Err(StoreError::CorruptNode { hash, .. }) if hash == junk_hash));
    // A missing node, reached through the table interface.
    backend.delete_nodes(&[victim]).unwrap();
    let mut failures = 0;
    for i in 0..20_000u32 {
        match store.get(root, &i.to_be_bytes()) {
            Ok(_) => {}
            Err(StoreError::MissingNode { hash }) => {
                assert_eq!(hash, victim);
                failures += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(failures > 0);
}

#[test]
fn corrupt_table_through_snapshot_is_an_error() {
    let backend = Arc::new(MemoryBackend::new());
    let store = Store::with_backend(backend.clone(), StoreConfig { cache_bytes: 0, ..StoreConfig::default() });
    let mut o = Overlay::new(&store, Hash::ZERO);
    o.create_table("t", TableMeta { schema: vec![] }).unwrap();
    o.put("t", b"k".to_vec(), b"v".to_vec()).unwrap();
    let state = o.flush().unwrap();
    store.set_ref("main", state).unwrap();
    let table_root = Snapshot::open(&store, state).table_root("t").unwrap().unwrap();
    backend.delete_nodes(&[table_root]).unwrap();
    let snap = Snapshot::open(&store, state);
    assert!(matches!(snap.get("t", b"k"), Err(StoreError::MissingNode { hash }) if hash == table_root));
    assert!(matches!(snap.count("t"), Err(StoreError::MissingNode { .. })));
}

#[test]
fn gc_keeps_refs_retained_roots_and_staged_trees() {
    let store = Store::memory();
    let v1 = store.build(&entries(30_000, 1)).unwrap();
    store.commit(&[], &[v1]).unwrap();
    let edits: Vec<Edit> =
        (0..30_000u32).step_by(97).map(|i| Edit::put(i.to_be_bytes().to_vec(), vec![2; 16])).collect();
    let v2 = store.apply(v1, &edits).unwrap();
    store.set_ref("main", v2).unwrap();

    // Keep v1 through the retention window: nothing is swept.
    let stats = store.gc(&[v1]).unwrap();
    assert_eq!(stats.swept_nodes, 0);
    store.check_tree(v1).unwrap();

    // A tree staged on top of v1 (not committed) shares v1's nodes.
    let v3 = store.apply(v1, &[Edit::delete(0u32.to_be_bytes().to_vec())]).unwrap();
    // v1 leaves the window: its own nodes go, except those v2 and the staged
    // v3 still use.
    let stats = store.gc(&[]).unwrap();
    assert!(stats.swept_nodes > 0, "{stats:?}");
    assert_eq!(store.check_tree(v2).unwrap().entries, 30_000);
    assert_eq!(store.check_tree(v3).unwrap().entries, 29_999);
    store.commit(&[RefUpdate { name: "other".into(), target: Some(v3) }], &[]).unwrap();
    store.discard_staged().unwrap();
    assert_eq!(store.check_tree(v3).unwrap().entries, 29_999);
    // v1's root itself is gone.
    assert!(matches!(store.get(v1, &1u32.to_be_bytes()), Err(StoreError::MissingNode { .. })));
    // A second GC with the same roots sweeps nothing more.
    assert_eq!(store.gc(&[]).unwrap().swept_nodes, 0);
}

#[test]
fn gc_follows_table_roots_of_a_state() {
    let store = Store::memory();
    let mut o = Overlay::new(&store, Hash::ZERO);
    o.create_table("a", TableMeta { schema: b"x".to_vec() }).unwrap();
    for i in 0..5000u32 {
        o.put("a", i.to_be_bytes().to_vec(), vec![0; 40]).unwrap();
    }
    let s1 = o.flush().unwrap();
    store.set_ref("main", s1).unwrap();
    store.gc(&[]).unwrap();
    // Every table node survived because the catalogue leaves reference them.
    assert_eq!(Snapshot::open(&store, s1).count("a").unwrap(), 5000);
    assert_eq!(store.check_tree(s1).unwrap().entries, 1);
    let n = Snapshot::open(&store, s1)
        .range("a", std::ops::Bound::Unbounded, std::ops::Bound::Unbounded, aergo_store::Direction::Forward)
        .unwrap()
        .count();
    assert_eq!(n, 5000);
}

/// GC in one thread while another applies and commits: every tree the
/// writer holds (committed or only staged) stays complete.
#[test]
fn gc_runs_safely_beside_a_writer() {
    let store = Store::memory();
    let mut root = store.build(&entries(5000, 0)).unwrap();
    store.set_ref("main", root).unwrap();
    std::thread::scope(|s| {
        let gc_store = store.clone();
        s.spawn(move || {
            for _ in 0..40 {
                gc_store.gc(&[]).unwrap();
            }
        });
        for v in 1..=120u32 {
            let keys: std::collections::BTreeSet<u32> = (0..40u32).map(|j| (v * 131 + j * 17) % 6000).collect();
            let edits: Vec<Edit> =
                keys.into_iter().map(|k| Edit::put(k.to_be_bytes().to_vec(), vec![v as u8; 16])).collect();
            root = store.apply(root, &edits).unwrap();
            store.check_tree(root).unwrap();
            if v % 3 == 0 {
                store.set_ref("main", root).unwrap();
            }
        }
    });
    store.set_ref("main", root).unwrap();
    store.discard_staged().unwrap();
    store.gc(&[]).unwrap();
    store.check_tree(root).unwrap();
}
