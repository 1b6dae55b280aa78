//! Crash safety: a child process commits versions of a tree in a loop (with
//! an occasional garbage collection); the parent kills it with SIGKILL at
//! pseudo-random moments, reopens the store and checks that the head ref
//! names a complete tree equal to the deterministic model of some version at
//! least as new as the last one the child reported committed.
//!
//! The child is this test binary re-run with `AERGO_STORE_CRASH_CHILD` set,
//! filtered to the `crash_child` test.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Bound;
use std::process::{Command, Stdio};
use std::time::Duration;

use aergo_store::{Direction, Edit, Hash, RefUpdate, Store};

const ENV: &str = "AERGO_STORE_CRASH_CHILD";
const VERSION_KEY: &[u8] = b"\xffversion";

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// The edits that turn version `v - 1` into version `v`.
fn edits_for(v: u64) -> Vec<Edit> {
    let mut m: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for j in 0..60u64 {
        let h = mix(v * 1000 + j);
        let key = ((h % 4000) as u32).to_be_bytes().to_vec();
        let value = (!h.is_multiple_of(7)).then(|| [v.to_be_bytes().as_slice(), &[j as u8; 24]].concat());
        m.insert(key, value);
    }
    m.insert(VERSION_KEY.to_vec(), Some(v.to_be_bytes().to_vec()));
    m.into_iter().map(|(key, value)| Edit { key, value }).collect()
}

fn read_version(store: &Store, root: Hash) -> u64 {
    match store.get(root, VERSION_KEY).unwrap() {
        Some(v) => u64::from_be_bytes(v.try_into().unwrap()),
        None => 0,
    }
}

/// The child's loop. Runs only when re-executed by the parent.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(ENV) else { return };
    let store = Store::open(&path).unwrap();
    let mut root = store.get_ref("head").unwrap().unwrap_or(Hash::ZERO);
    let mut v = read_version(&store, root);
    loop {
        v += 1;
        root = store.apply(root, &edits_for(v)).unwrap();
        store.commit(&[RefUpdate { name: "head".into(), target: Some(root) }], &[]).unwrap();
        println!("committed {v}");
        if v.is_multiple_of(10) {
            store.gc(&[]).unwrap();
            println!("gc {v}");
        }
    }
}

#[test]
fn sigkill_during_commits_never_tears_the_head() {
    if std::env::var(ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let exe = std::env::current_exe().unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut model_version = 0u64;
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut max_version = 0;
    for iteration in 0..60 {
        rng = mix(rng);
        let delay_ms = 20 + rng % 180;
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let reported = out
            .lines()
            .filter_map(|l| l.strip_prefix("committed "))
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .max()
            .unwrap_or(0);

        let store = Store::open(&path).unwrap();
        let head = store.get_ref("head").unwrap().unwrap_or(Hash::ZERO);
        let v = read_version(&store, head);
        assert!(v >= reported, "iteration {iteration}: head at version {v}, child reported {reported} committed");
        assert!(v >= max_version, "iteration {iteration}: head went back from {max_version} to {v}");
        max_version = v;
        while model_version < v {
            model_version += 1;
            for e in edits_for(model_version) {
                match e.value {
                    Some(val) => model.insert(e.key, val),
                    None => model.remove(&e.key),
                };
            }
        }
        let stats = store.check_tree(head).unwrap();
        assert_eq!(stats.entries, model.len() as u64);
        let content: Vec<(Vec<u8>, Vec<u8>)> = store
            .range(head, Bound::Unbounded, Bound::Unbounded, Direction::Forward)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            content == model.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>(),
            "content differs from the model at version {v}"
        );
    }
    eprintln!("crash test: 60 kills, head reached version {max_version}");
    assert!(max_version > 0, "the child never committed");
}
