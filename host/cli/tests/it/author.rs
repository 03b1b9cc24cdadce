//! From `piste module new` to a signed, verified, inspected and tested module, through the
//! real binary, the real cargo build for wasm32-wasip2 and the real sandbox.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn piste(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piste"))
        .args(args)
        // Module builds share one target directory across test runs, so only the first is slow.
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .expect("run piste")
}

fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/module-template-builds")
}

fn ok(args: &[&str]) -> String {
    let out = piste(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "piste {args:?} failed:\n{text}");
    text
}

fn fails(args: &[&str]) -> String {
    let out = piste(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "piste {args:?} should fail:\n{text}");
    text
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_new_module_builds_signs_verifies_and_passes_its_fixtures() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    let crate_dir = tmp.path().join("my-tagger");
    let out = tmp.path().join("out");

    let text = ok(&["keys", "generate", "--out", s(&keys)]);
    assert!(text.contains("fingerprint"), "{text}");
    let again = fails(&["keys", "generate", "--out", s(&keys)]);
    assert!(again.contains("--force"), "{again}");

    ok(&[
        "module",
        "new",
        "my-tagger",
        "--world",
        "tagger",
        "--dir",
        s(&crate_dir),
    ]);
    let refused = fails(&[
        "module",
        "new",
        "my-tagger",
        "--world",
        "tagger",
        "--dir",
        s(&crate_dir),
    ]);
    assert!(refused.contains("not empty"), "{refused}");
    let bad_name = fails(&[
        "module",
        "new",
        "My_Tagger",
        "--world",
        "tagger",
        "--dir",
        s(&tmp.path().join("x")),
    ]);
    assert!(bad_name.contains("not a valid module name"), "{bad_name}");

    // The template's own tests pass natively, as they are.
    let native = Command::new(env!("CARGO"))
        .arg("test")
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .unwrap();
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );

    let built = ok(&["module", "build", s(&crate_dir), "--out", s(&out)]);
    assert!(built.contains("my-tagger@0.1.0"), "{built}");
    let wasm = out.join("my-tagger.wasm");

    let inspected = ok(&["module", "inspect", s(&wasm)]);
    assert!(inspected.contains("world       tagger"), "{inspected}");
    assert!(inspected.contains("none (unsigned)"), "{inspected}");
    assert!(!inspected.contains("FORBIDDEN"), "{inspected}");

    let unsigned = fails(&[
        "module",
        "test",
        s(&wasm),
        "--fixtures",
        s(&crate_dir.join("fixtures")),
        "--trust",
        s(&keys.join("publisher.pub")),
    ]);
    assert!(unsigned.contains("not signed"), "{unsigned}");

    ok(&[
        "module",
        "sign",
        s(&wasm),
        "--key",
        s(&keys.join("publisher.key")),
    ]);
    let verified = ok(&[
        "module",
        "verify",
        s(&wasm),
        "--trust",
        s(&keys.join("publisher.pub")),
    ]);
    assert!(verified.contains("signature valid"), "{verified}");
    assert!(ok(&["module", "inspect", s(&wasm), "--json"]).contains("\"signatures\": 1"));

    let tested = ok(&[
        "module",
        "test",
        s(&wasm),
        "--fixtures",
        s(&crate_dir.join("fixtures")),
        "--trust",
        s(&keys.join("publisher.pub")),
    ]);
    assert!(tested.contains("PASS example"), "{tested}");
    assert!(tested.contains("1 passed, 0 failed"), "{tested}");

    // A wrong expectation fails and shows both sides.
    std::fs::write(crate_dir.join("fixtures/example.expected.json"), "[]").unwrap();
    let failed = fails(&[
        "module",
        "test",
        s(&wasm),
        "--fixtures",
        s(&crate_dir.join("fixtures")),
        "--trust",
        s(&keys.join("publisher.pub")),
    ]);
    assert!(
        failed.contains("FAIL example")
            && failed.contains("expected:")
            && failed.contains("actual:"),
        "{failed}"
    );

    // Another publisher's key does not verify it.
    let other = tmp.path().join("other");
    ok(&["keys", "generate", "--out", s(&other)]);
    let refused = fails(&[
        "module",
        "verify",
        s(&wasm),
        "--trust",
        s(&other.join("publisher.pub")),
    ]);
    assert!(refused.contains("signature check failed"), "{refused}");
}

#[test]
fn every_world_has_a_template_that_builds() {
    let tmp = tempfile::tempdir().unwrap();
    for world in ["captioner", "distributor"] {
        let dir = tmp.path().join(world);
        ok(&[
            "module",
            "new",
            &format!("my-{world}"),
            "--world",
            world,
            "--dir",
            s(&dir),
        ]);
        let built = ok(&[
            "module",
            "build",
            s(&dir),
            "--out",
            s(&tmp.path().join("out")),
        ]);
        assert!(built.contains(&format!("my-{world}@0.1.0")), "{built}");
        let inspected = ok(&[
            "module",
            "inspect",
            s(&tmp.path().join("out").join(format!("my-{world}.wasm"))),
        ]);
        assert!(
            inspected.contains(&format!("world       {world}")),
            "{inspected}"
        );
    }
}
