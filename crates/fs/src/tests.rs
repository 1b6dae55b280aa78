use super::*;

fn small() -> FsConfig {
    FsConfig { max_volume_bytes: 64 << 10, max_file_bytes: 40 << 20, sync: false, checkpoint_every: 50 }
}

fn data(i: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    let mut x = i.wrapping_mul(2_654_435_761).wrapping_add(1);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn put_get_round_trips_from_empty_to_many_megabytes() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    for (i, len) in [0usize, 1, 7, 8, 1_000, 65_536, 300_000, 33 << 20].into_iter().enumerate() {
        let d = data(i as u32, len);
        let p = fs.put("application/octet-stream", &d).unwrap();
        assert_eq!(p.key, Hash::sha256(&d));
        assert!(p.written);
        let got = fs.get(&p.key).unwrap().unwrap();
        assert_eq!(got.data, d, "{len} bytes");
        assert_eq!(got.content_type, "application/octet-stream");
        assert_eq!(fs.stat(&p.key).unwrap().unwrap().size, len as u64);
        // The same bytes again: stored once.
        assert!(!fs.put("text/plain", &d).unwrap().written);
    }
    assert!(fs.stats().volumes > 1, "small volumes rotate");
    assert_eq!(fs.get(&Hash::sha256(b"absent")).unwrap(), None);
    let reads = fs.stats().reads;
    fs.get(&Hash::sha256(&data(5, 65_536))).unwrap().unwrap();
    assert_eq!(fs.stats().reads, reads + 1, "one disk read per file read");
}

#[test]
fn bounds_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), FsConfig { max_file_bytes: 100, ..small() }).unwrap();
    assert!(matches!(fs.put("", &[0u8; 101]), Err(FsError::TooLarge { got: 101, max: 100 })));
    assert!(matches!(fs.put("a\nb", b"x"), Err(FsError::BadContentType { .. })));
    assert!(matches!(fs.put(&"x".repeat(128), b"x"), Err(FsError::BadContentType { .. })));
    assert_eq!(fs.stats().files, 0, "nothing stored");
}

#[test]
fn deletes_survive_reopening_with_and_without_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Hash> = {
        let fs = FsStore::open(dir.path(), small()).unwrap();
        let keys: Vec<Hash> = (0..120).map(|i| fs.put("", &data(i, 500)).unwrap().key).collect();
        for k in keys.iter().step_by(3) {
            assert!(fs.delete(k).unwrap());
        }
        assert!(!fs.delete(&keys[0]).unwrap(), "already deleted");
        keys
    };
    for with_checkpoint in [true, false] {
        if !with_checkpoint {
            std::fs::remove_file(dir.path().join(CHECKPOINT_FILE)).unwrap();
        }
        let fs = FsStore::open(dir.path(), small()).unwrap();
        assert!(fs.warnings.is_empty(), "{:?}", fs.warnings);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(fs.get(k).unwrap().is_some(), i % 3 != 0, "file {i} (checkpoint: {with_checkpoint})");
        }
        let listed: Vec<Hash> = fs.list(None, 1_000).into_iter().map(|(k, _)| k).collect();
        let mut expected: Vec<Hash> = keys.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, k)| *k).collect();
        expected.sort();
        assert_eq!(listed, expected, "listed in key order");
        assert_eq!(fs.list(Some(&expected[9]), 5).len(), 5);
    }
}

#[test]
fn a_torn_tail_is_cut_and_nothing_acknowledged_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = FsConfig { checkpoint_every: 1_000_000, ..small() };
    let (keys, last_vol) = {
        let fs = FsStore::open(dir.path(), cfg.clone()).unwrap();
        let keys: Vec<Hash> = (0..40).map(|i| fs.put("", &data(i, 700)).unwrap().key).collect();
        let v = fs.lock_writer().active;
        std::mem::forget(fs); // a crash: no checkpoint on close
        (keys, v)
    };
    // Half a needle more, as a crash mid-write leaves it.
    let path = volume_path(dir.path(), last_vol);
    let torn = needle::encode(&Hash::sha256(b"torn"), "", &data(999, 5_000));
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&torn[..torn.len() / 2]).unwrap();
    let before = f.metadata().unwrap().len();
    drop(f);
    let fs = FsStore::open(dir.path(), cfg).unwrap();
    assert!(fs.warnings.iter().any(|w| w.contains("torn write")), "{:?}", fs.warnings);
    assert!(std::fs::metadata(&path).unwrap().len() < before, "cut");
    for k in &keys {
        assert!(fs.get(k).unwrap().is_some());
    }
    assert_eq!(fs.get(&Hash::sha256(b"torn")).unwrap(), None, "no torn needle visible");
    // Writing goes on from the cut.
    let k = fs.put("", b"after").unwrap().key;
    assert_eq!(fs.get(&k).unwrap().unwrap().data, b"after");
}

#[test]
fn damaged_bytes_are_detected_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    let p = fs.put("text/plain", &data(1, 2_000)).unwrap();
    let loc = fs.stat(&p.key).unwrap().unwrap().loc;
    let path = volume_path(dir.path(), loc.volume);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    assert!(fs.verify(&p.key).unwrap());
    f.write_all_at(&[0xAA], loc.offset + 500).unwrap();
    assert!(matches!(fs.get(&p.key), Err(FsError::Corrupt { .. })));
    assert!(matches!(fs.verify(&p.key), Err(FsError::Corrupt { .. })));
    assert!(!fs.verify(&Hash::sha256(b"absent")).unwrap());
    // Healing, as the node does with a good copy from a peer: the damaged
    // needle is deleted and the file stored again.
    assert!(fs.delete(&p.key).unwrap());
    assert!(fs.put("text/plain", &data(1, 2_000)).unwrap().written);
    assert_eq!(fs.get(&p.key).unwrap().unwrap().data, data(1, 2_000));
    drop(fs);
    let fs = FsStore::open(dir.path(), small()).unwrap();
    assert_eq!(fs.get(&p.key).unwrap().unwrap().data, data(1, 2_000), "the healed copy survives reopening");
}

#[test]
fn pieces_cover_a_file_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    let d = data(3, 10_001);
    let p = fs.put("image/png", &d).unwrap();
    let mut got = Vec::new();
    for offset in (0..d.len() as u64).step_by(4_096) {
        let piece = fs.read_piece(&p.key, offset, 4_096).unwrap().unwrap();
        assert_eq!((piece.size, piece.content_type.as_str()), (10_001, "image/png"));
        got.extend_from_slice(&piece.data);
    }
    assert_eq!(got, d);
    assert!(fs.read_piece(&p.key, 20_000, 10).unwrap().unwrap().data.is_empty(), "past the end: nothing");
    assert_eq!(fs.read_piece(&Hash::sha256(b"absent"), 0, 10).unwrap(), None);
    let empty = fs.put("", &[]).unwrap();
    assert_eq!(fs.read_piece(&empty.key, 0, 10).unwrap().unwrap().size, 0);
    assert!(fs.verify(&empty.key).unwrap());
    let big = fs.put("", &data(4, (3 << 20) + 5)).unwrap();
    assert!(fs.verify(&big.key).unwrap(), "checked across several blocks");
}

#[test]
fn compaction_reclaims_space_under_concurrent_reads_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FsStore::open(dir.path(), small()).unwrap());
    let keys: Vec<Hash> = (0..400).map(|i| fs.put("", &data(i, 900)).unwrap().key).collect();
    for k in keys.iter().filter(|k| k.as_bytes()[0] % 2 == 0) {
        fs.delete(k).unwrap();
    }
    let live: Vec<Hash> = keys.iter().filter(|k| k.as_bytes()[0] % 2 == 1).copied().collect();
    let before = fs.stats();
    assert!(before.dead_bytes > 0);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (fs, live, stop) = (fs.clone(), live.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = &live[(n as usize * 7 + t) % live.len()];
                    assert!(fs.get(k).unwrap().is_some(), "a live file vanished during compaction");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let writer = {
        let (fs, stop) = (fs.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut added = Vec::new();
            let mut i = 10_000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && added.len() < 200 {
                added.push(fs.put("", &data(i, 300)).unwrap().key);
                i += 1;
            }
            added
        })
    };
    let mut reclaimed = 0;
    for id in fs.compactable(0.2) {
        reclaimed += fs.compact(id).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let added = writer.join().unwrap();
    assert!(reads > 0);
    assert!(reclaimed > 0, "space reclaimed");
    assert!(fs.stats().dead_bytes < before.dead_bytes);
    for k in live.iter().chain(&added) {
        assert!(fs.get(k).unwrap().is_some());
    }
    // And after reopening.
    drop(fs);
    let fs = FsStore::open(dir.path(), small()).unwrap();
    assert!(fs.warnings.is_empty(), "{:?}", fs.warnings);
    for k in live.iter().chain(&added) {
        assert!(fs.get(k).unwrap().is_some());
    }
    for k in keys.iter().filter(|k| k.as_bytes()[0] % 2 == 0) {
        assert!(fs.get(k).unwrap().is_none(), "a deleted file came back");
    }
}

#[test]
fn a_stale_checkpoint_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Hash> = {
        let fs = FsStore::open(dir.path(), small()).unwrap();
        (0..200).map(|i| fs.put("", &data(i, 900)).unwrap().key).collect()
    };
    // A volume shorter than the checkpoint says.
    let path = volume_path(dir.path(), 1);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len / 2).unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    assert!(fs.warnings.iter().any(|w| w.contains("does not match")), "{:?}", fs.warnings);
    // What is on disk is readable; nothing points past the end.
    for k in &keys {
        let _ = fs.get(k).unwrap();
    }
}

#[test]
fn damage_inside_the_active_volume_is_kept_and_never_appended_after() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = FsConfig { max_volume_bytes: 1 << 30, ..small() };
    let keys: Vec<Hash> = {
        let fs = FsStore::open(dir.path(), cfg.clone()).unwrap();
        (0..50).map(|i| fs.put("", &data(i, 900)).unwrap().key).collect()
    };
    // Damage the 10th file's data, and lose the checkpoint: the scan from
    // 0 meets the damage with good needles after it.
    let fs = FsStore::open(dir.path(), cfg.clone()).unwrap();
    let loc = fs.stat(&keys[10]).unwrap().unwrap().loc;
    drop(fs);
    std::fs::remove_file(dir.path().join(CHECKPOINT_FILE)).unwrap();
    let path = volume_path(dir.path(), loc.volume);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().write_all_at(&[0x55], loc.offset + 300).unwrap();
    let fs = FsStore::open(dir.path(), cfg.clone()).unwrap();
    assert!(fs.warnings.iter().any(|w| w.contains("damaged")), "{:?}", fs.warnings);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "nothing cut");
    for k in &keys[..10] {
        assert!(fs.get(k).unwrap().is_some(), "files before the damage read");
    }
    // New files go to a new volume; the damaged one is never compacted.
    let k = fs.put("", b"new").unwrap().key;
    assert_ne!(fs.stat(&k).unwrap().unwrap().loc.volume, loc.volume);
    assert!(matches!(fs.compact(loc.volume), Err(FsError::Corrupt { .. })));
    drop(fs);
    // And it is reported again at the next open, not forgotten.
    let fs = FsStore::open(dir.path(), cfg).unwrap();
    assert!(fs.warnings.iter().any(|w| w.contains("damaged")), "{:?}", fs.warnings);
    assert!(fs.get(&k).unwrap().is_some());
}

#[test]
fn a_crash_between_compaction_and_its_checkpoint_rescans() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    let keys: Vec<Hash> = (0..300).map(|i| fs.put("", &data(i, 900)).unwrap().key).collect();
    for k in keys.iter().step_by(2) {
        fs.delete(k).unwrap();
    }
    let (reclaimed, errors) = fs.compact_all(0.2);
    assert!(reclaimed > 0 && errors.is_empty(), "{errors:?}");
    std::mem::forget(fs);
    // As if the process died after the rename, before the new checkpoint.
    std::fs::remove_file(dir.path().join(CHECKPOINT_FILE)).unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(fs.get(k).unwrap().is_some(), i % 2 == 1, "file {i}");
    }
}

#[test]
fn a_huge_length_in_a_damaged_header_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let fs = FsStore::open(dir.path(), small()).unwrap();
        fs.put("", b"one").unwrap();
        std::mem::forget(fs);
    }
    // A header claiming a 3 GiB needle (with a valid-looking magic) at the
    // end of the active volume.
    let path = volume_path(dir.path(), 1);
    let mut h = needle::encode(&Hash::sha256(b"x"), "", b"x");
    h[8..16].copy_from_slice(&(3u64 << 30).to_le_bytes());
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&h[..needle::HEADER_BYTES]).unwrap();
    drop(f);
    let fs = FsStore::open(dir.path(), small()).unwrap();
    assert!(!fs.warnings.is_empty());
    assert!(fs.get(&Hash::sha256(b"one")).unwrap().is_some());
}

#[test]
fn a_checkpoint_is_written_only_when_something_changed() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FsStore::open(dir.path(), FsConfig { checkpoint_every: u64::MAX, ..small() }).unwrap();
    assert!(!fs.checkpoint_if_changed().unwrap(), "nothing written yet");
    fs.put("", b"a").unwrap();
    assert!(fs.checkpoint_if_changed().unwrap());
    assert!(dir.path().join(CHECKPOINT_FILE).exists());
    assert!(!fs.checkpoint_if_changed().unwrap(), "nothing since");
}

#[test]
fn a_store_written_in_the_first_format_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (data(1, 3_000), data(2, 10));
    let mut vol = needle::tests::encode_v1(&Hash::sha256(&a), "text/plain", &a);
    vol.extend(needle::tests::encode_v1(&Hash::sha256(&b), "", &b));
    std::fs::write(volume_path(dir.path(), 1), &vol).unwrap();
    let fs = FsStore::open(dir.path(), small()).unwrap();
    assert!(fs.warnings.is_empty(), "{:?}", fs.warnings);
    assert_eq!(fs.get(&Hash::sha256(&a)).unwrap().unwrap().data, a);
    assert_eq!(fs.get(&Hash::sha256(&b)).unwrap().unwrap().data, b);
    assert!(fs.verify(&Hash::sha256(&a)).unwrap());
    // New writes go on in the current format beside them.
    let c = fs.put("", &data(3, 100)).unwrap();
    assert_eq!(fs.get(&c.key).unwrap().unwrap().data, data(3, 100));
}
