//! Signatures: wasmsign2 interoperability both ways, OpenSSH keys, and tampering.

use std::path::Path;
use std::process::Command;

use piste_sandbox::{Error, ModuleSpec, TrustStore, World};

use crate::common::{Bench, guest, moments};

fn wasmsign2(args: &[&str], dir: &Path) {
    let out = Command::new("wasmsign2")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("wasmsign2 is not installed: run `cargo xtask setup`");
    assert!(
        out.status.success(),
        "wasmsign2 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_module_signed_by_piste_verifies_with_wasmsign2() {
    let bench = Bench::new();
    let signed = bench.signed("tag-rules");
    let public = bench.dir.path().join("publisher.pub");
    let secret = bench.dir.path().join("publisher.key");
    bench.key.write(&secret, &public).unwrap();
    wasmsign2(
        &[
            "verify",
            "-i",
            signed.to_str().unwrap(),
            "-K",
            public.to_str().unwrap(),
        ],
        bench.dir.path(),
    );
}

#[test]
fn a_module_signed_by_wasmsign2_verifies_and_runs_in_piste() {
    let bench = Bench::new();
    let dir = bench.dir.path();
    wasmsign2(&["keygen", "-K", "ws.pub", "-k", "ws.key"], dir);
    let unsigned = bench.write("tag-rules.wasm", &guest("tag-rules"));
    wasmsign2(
        &[
            "sign",
            "-i",
            unsigned.to_str().unwrap(),
            "-o",
            "signed.wasm",
            "-k",
            "ws.key",
        ],
        dir,
    );
    let trust = TrustStore::load(&dir.join("ws.pub")).unwrap();
    let bytes = std::fs::read(dir.join("signed.wasm")).unwrap();
    assert_eq!(trust.verify("tag-rules", &bytes).unwrap().len(), 1);

    let sandbox = piste_sandbox::Sandbox::new(Default::default(), trust).unwrap();
    let module = sandbox
        .load(ModuleSpec::new(dir.join("signed.wasm"), World::Tagger))
        .unwrap();
    assert!(!module.tag(&moments()[0]).unwrap().is_empty());
}

#[test]
fn openssh_ed25519_keys_are_trusted_publisher_keys() {
    let bench = Bench::new();
    let dir = bench.dir.path();
    let keygen = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "publisher@venue",
            "-f",
        ])
        .arg(dir.join("id_ed25519"))
        .status()
        .expect("ssh-keygen is not installed: run `cargo xtask setup`");
    assert!(keygen.success());
    let unsigned = bench.write("tag-rules.wasm", &guest("tag-rules"));
    wasmsign2(
        &[
            "sign",
            "--ssh",
            "-i",
            unsigned.to_str().unwrap(),
            "-o",
            "signed.wasm",
            "-k",
            "id_ed25519",
        ],
        dir,
    );
    // An authorized_keys-style file with a comment and a key of another type.
    let line = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
    std::fs::write(
        dir.join("trusted.pub"),
        format!("# venue publishers\nssh-rsa AAAAB3Nza other\n{line}"),
    )
    .unwrap();
    let trust = TrustStore::load(&dir.join("trusted.pub")).unwrap();
    assert_eq!(trust.len(), 1);
    trust
        .verify(
            "tag-rules",
            &std::fs::read(dir.join("signed.wasm")).unwrap(),
        )
        .unwrap();
}

#[test]
fn one_flipped_byte_anywhere_fails_verification() {
    let bench = Bench::new();
    let signed = std::fs::read(bench.signed("tag-rules")).unwrap();
    let mut trust = TrustStore::empty();
    trust.add(bench.key.public().clone());
    trust.verify("tag-rules", &signed).unwrap();
    // Every byte of the signature section and header, then a spread over the whole module.
    let positions: Vec<usize> = (0..200.min(signed.len()))
        .chain((0..signed.len()).step_by(signed.len() / 300 + 1))
        .chain([signed.len() - 1])
        .collect();
    for position in positions {
        let mut tampered = signed.clone();
        tampered[position] ^= 0x01;
        assert!(
            trust.verify("tag-rules", &tampered).is_err(),
            "a flip at byte {position} went unnoticed"
        );
    }
}

#[test]
fn unsigned_unknown_and_tampered_modules_are_refused_before_compiling() {
    let bench = Bench::new();
    let unsigned = bench.write("unsigned.wasm", &guest("tag-rules"));
    let error = bench
        .sandbox
        .load(ModuleSpec::new(&unsigned, World::Tagger))
        .unwrap_err();
    assert!(matches!(error, Error::Unsigned { .. }), "{error}");
    assert!(error.to_string().contains("piste module sign"));

    let stranger = piste_sandbox::PublisherKey::generate();
    let foreign = bench.write(
        "foreign.wasm",
        &stranger.sign("tag-rules", &guest("tag-rules")).unwrap(),
    );
    let error = bench
        .sandbox
        .load(ModuleSpec::new(&foreign, World::Tagger))
        .unwrap_err();
    assert!(matches!(error, Error::Signature { .. }), "{error}");

    let mut tampered = std::fs::read(bench.signed("tag-rules")).unwrap();
    let last = tampered.len() - 10;
    tampered[last] ^= 0x20;
    let tampered = bench.write("tampered.wasm", &tampered);
    let error = bench
        .sandbox
        .load(ModuleSpec::new(&tampered, World::Tagger))
        .unwrap_err();
    assert!(matches!(error, Error::Signature { .. }), "{error}");
    // Nothing was compiled: the cache is still empty.
    let cached = std::fs::read_dir(bench.dir.path().join("cache"))
        .unwrap()
        .count();
    assert_eq!(cached, 0);
}
