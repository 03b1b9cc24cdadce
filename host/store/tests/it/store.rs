//! The store against real files and a real redb catalog in a temporary directory.

use piste_store::{
    BlobInfo, CHUNK_SIZE, Damage, Error, Hash, Manifest, OutboxState, Priority, Rendition, Store,
    StoreOptions, Tag, chunk_hashes, chunk_id, root_of,
};

fn manifest(event: &str, priority: Priority, files: &[(&str, &BlobInfo)]) -> Manifest {
    Manifest {
        venue: "cortina".into(),
        event: event.into(),
        captured_ms: 1_770_000_000_000,
        created_ms: 1_770_000_001_000,
        priority,
        renditions: files
            .iter()
            .map(|(name, b)| Rendition {
                name: (*name).into(),
                media_type: "application/octet-stream".into(),
                size: b.size,
                hash: b.hash,
            })
            .collect(),
        tags: vec![Tag {
            label: "triple-axel".into(),
            confidence: 0.9,
        }],
        captions: vec![],
        routes: vec![],
    }
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn files_are_content_addressed_and_chunked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let data = bytes(1, 2 * CHUNK_SIZE + 77);
    let info = store.put_bytes(&data).unwrap();
    assert_eq!(info.hash, Hash::of(&data));
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(info.chunks.len(), 3);
    assert_eq!(info.chunks[2], chunk_id(2, 3, &data[2 * CHUNK_SIZE..]));
    assert_eq!(root_of(&info.chunks), info.hash);
    assert_eq!(std::fs::read(store.blob_path(&info.hash)).unwrap(), data);
    // A file on disk goes in the same way.
    let path = dir.path().join("orbit.mp4");
    std::fs::write(&path, &data).unwrap();
    assert_eq!(store.put_file(&path).unwrap(), info);
}

#[test]
fn outbox_drains_by_priority_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ids = {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let big = store.put_bytes(&bytes(2, 5000)).unwrap();
        let bulk = store
            .add(
                &manifest("raw", Priority::Bulk, &[("clip.bin", &big)]),
                std::slice::from_ref(&big),
            )
            .unwrap();
        let render = store
            .add(
                &manifest("orbit", Priority::Render, &[("orbit.mp4", &big)]),
                &[],
            )
            .unwrap();
        let meta = store
            .add(&manifest("tags", Priority::Metadata, &[]), &[])
            .unwrap();
        // Adding the same manifest twice is one asset.
        assert_eq!(
            store
                .add(&manifest("tags", Priority::Metadata, &[]), &[])
                .unwrap(),
            meta
        );
        [meta, render, bulk]
    };
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let pending: Vec<Hash> = store
        .pending(10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(pending, ids, "metadata before renders before bulk");
    let usage = store.usage().unwrap();
    assert_eq!(usage.assets, 3);
    assert_eq!(
        usage.bytes, 5000,
        "one file shared by two assets is stored once"
    );
    assert_eq!(usage.pending_assets, [1, 1, 1]);
    assert!(store.mark_archived(&ids[1], 42).unwrap());
    assert!(
        !store.mark_archived(&ids[1], 43).unwrap(),
        "a second receipt changes nothing"
    );
    assert_eq!(
        store.state(&ids[1]).unwrap(),
        OutboxState::Archived { at_ms: 42 }
    );
    assert_eq!(store.pending(10).unwrap().len(), 2);
    assert_eq!(store.manifest(&ids[2]).unwrap().event, "raw");
    assert_eq!(store.list().unwrap().len(), 3);
}

#[test]
fn a_rendition_without_its_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let ghost = BlobInfo {
        hash: Hash::of(b"ghost"),
        size: 5,
        chunks: vec![Hash::of(b"ghost")],
    };
    let err = store
        .add(&manifest("x", Priority::Render, &[("a.png", &ghost)]), &[])
        .unwrap_err();
    assert!(matches!(err, Error::MissingBlob { .. }), "{err}");
    assert!(err.to_string().contains("a.png"), "{err}");
    assert!(store.pending(10).unwrap().is_empty());
}

#[test]
fn quota_evicts_archived_assets_and_never_unsynced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        StoreOptions {
            quota_bytes: Some(10_000),
        },
    )
    .unwrap();
    let a = store.put_bytes(&bytes(1, 4000)).unwrap();
    let ida = store
        .add(
            &manifest("a", Priority::Render, &[("a", &a)]),
            std::slice::from_ref(&a),
        )
        .unwrap();
    let b = store.put_bytes(&bytes(2, 4000)).unwrap();
    let idb = store
        .add(
            &manifest("b", Priority::Render, &[("b", &b)]),
            std::slice::from_ref(&b),
        )
        .unwrap();

    // Nothing archived: a third file would overflow and nothing may be dropped.
    let c = store.put_bytes(&bytes(3, 4000)).unwrap();
    let err = store
        .add(
            &manifest("c", Priority::Render, &[("c", &c)]),
            std::slice::from_ref(&c),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::QuotaFull {
                quota: 10_000,
                unsynced: 8000,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("piste store drop --unsynced"),
        "{err}"
    );
    assert!(
        !store.blob_path(&c.hash).exists(),
        "the refused file is not left behind"
    );
    assert_eq!(store.pending(10).unwrap().len(), 2);

    // Once `a` is archived, it makes room.
    store.mark_archived(&ida, 1).unwrap();
    let c = store.put_bytes(&bytes(3, 4000)).unwrap();
    let idc = store
        .add(
            &manifest("c", Priority::Render, &[("c", &c)]),
            std::slice::from_ref(&c),
        )
        .unwrap();
    assert!(matches!(store.state(&ida), Err(Error::UnknownAsset(_))));
    assert!(!store.blob_path(&a.hash).exists());
    assert_eq!(store.usage().unwrap().bytes, 8000);
    let pending: Vec<Hash> = store
        .pending(10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(pending, vec![idb, idc]);

    // Dropping an unsynced asset needs force.
    assert!(matches!(
        store.drop_unsynced(&idb, false),
        Err(Error::Unconfirmed(_))
    ));
    store.drop_unsynced(&idb, true).unwrap();
    assert!(!store.blob_path(&b.hash).exists());
    assert_eq!(store.pending(10).unwrap().len(), 1);
}

#[test]
fn verify_finds_corrupt_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let a = store.put_bytes(&bytes(1, 3000)).unwrap();
    let b = store.put_bytes(&bytes(2, 3000)).unwrap();
    let id = store
        .add(
            &manifest("ab", Priority::Render, &[("a", &a), ("b", &b)]),
            &[a.clone(), b.clone()],
        )
        .unwrap();
    let clean = store.verify().unwrap();
    assert_eq!((clean.assets, clean.files, clean.bytes), (1, 2, 6000));
    assert!(clean.damage.is_empty());

    let mut data = std::fs::read(store.blob_path(&a.hash)).unwrap();
    data[1234] ^= 0x40;
    std::fs::write(store.blob_path(&a.hash), &data).unwrap();
    std::fs::remove_file(store.blob_path(&b.hash)).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(report.damage.len(), 2, "{:?}", report.damage);
    assert!(report.damage.iter().any(|d| matches!(d, Damage::CorruptFile { hash, actual, assets } if *hash == a.hash && *actual == Hash::of(&data) && assets == &vec![id])));
    assert!(
        report
            .damage
            .iter()
            .any(|d| matches!(d, Damage::MissingFile { hash, .. } if *hash == b.hash))
    );
}

#[test]
fn reopening_sweeps_files_no_asset_names() {
    let dir = tempfile::tempdir().unwrap();
    let orphan = {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let kept = store.put_bytes(b"kept").unwrap();
        store
            .add(&manifest("k", Priority::Render, &[("k", &kept)]), &[kept])
            .unwrap();
        store.put_bytes(b"never added").unwrap()
    };
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert!(!store.blob_path(&orphan.hash).exists());
    assert!(store.blob_path(&Hash::of(b"kept")).exists());
}

#[test]
fn a_second_opener_is_told_the_store_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let err = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
}

#[test]
fn manifests_round_trip_and_bad_ones_are_named() {
    let m = manifest("e", Priority::Metadata, &[]);
    assert_eq!(Manifest::from_bytes(&m.to_bytes()).unwrap(), m);
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    let mut bad = m.clone();
    bad.venue = "../etc".into();
    assert!(bad.validate().unwrap_err().to_string().contains("venue"));
    let mut bad = m.clone();
    bad.tags[0].confidence = 3.0;
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("confidence")
    );
    assert!(Manifest::from_bytes(&[0xff; 7]).is_err());
    for cut in 0..m.to_bytes().len() {
        assert!(
            Manifest::from_bytes(&m.to_bytes()[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
}

#[test]
fn chunk_ids_add_up_to_the_blake3_hash_of_the_file() {
    // BLAKE3's tree splits at powers of two; check sizes around every boundary that matters.
    let c = CHUNK_SIZE;
    for size in [
        0,
        1,
        1023,
        1024,
        c - 1,
        c,
        c + 1,
        2 * c,
        2 * c + 1,
        3 * c - 7,
        4 * c,
        4 * c + 1,
        5 * c + 99,
        7 * c,
        8 * c + 1,
        9 * c,
    ] {
        let data = bytes((size % 251) as u8, size);
        let ids = chunk_hashes(&data);
        assert_eq!(ids.len(), size.div_ceil(c));
        assert_eq!(root_of(&ids), Hash::of(&data), "size {size}");
    }
    // A chunk id changes with the chunk's bytes and with its place.
    let data = bytes(3, 3 * c);
    let ids = chunk_hashes(&data);
    assert_ne!(
        chunk_id(1, 3, &data[c..2 * c]),
        chunk_id(2, 3, &data[c..2 * c])
    );
    let mut bad = ids.clone();
    bad.swap(0, 1);
    assert_ne!(root_of(&bad), Hash::of(&data));
}

#[test]
fn receipts_that_arrive_together_are_marked_in_one_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let ids: Vec<Hash> = (0..5)
        .map(|i| {
            store
                .add(&manifest(&format!("m{i}"), Priority::Metadata, &[]), &[])
                .unwrap()
        })
        .collect();
    let unknown = Hash::of(b"not an asset");
    assert_eq!(
        store
            .mark_archived_all(&[ids[0], ids[2], ids[4], unknown], 7)
            .unwrap(),
        3
    );
    assert_eq!(
        store.mark_archived_all(&[ids[0], ids[2]], 8).unwrap(),
        0,
        "a second receipt changes nothing"
    );
    let pending: Vec<Hash> = store
        .pending(10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(pending, vec![ids[1], ids[3]]);
    assert_eq!(
        store.state(&ids[2]).unwrap(),
        OutboxState::Archived { at_ms: 7 }
    );
}
