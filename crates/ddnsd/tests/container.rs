//! What the container image runs, without a container engine: the static
//! binary that `deploy/docker/Dockerfile` builds, alone in an empty root
//! directory with the CA bundle (as in the `FROM scratch` image), run as
//! the image's user 65532 with no capability, in a network namespace.
//!
//! `scripts/test.sh` builds the binary and names it in
//! `DDNS_STATIC_BINARY`; without it these tests skip (or fail under
//! `DDNS_REQUIRE_SYSTEM_TESTS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ddns_testkit::{Daemon, Netns};

const WAIT: Duration = Duration::from_secs(20);
/// The image's user and group (`USER 65532:65532`).
const IMAGE_USER: u32 = 65532;
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn static_binary(test: &str) -> Option<PathBuf> {
    ddns_testkit::static_binary("DDNS_STATIC_BINARY", test)
}

#[test]
fn the_static_binary_links_nothing_at_run_time() {
    let Some(binary) = static_binary("the_static_binary_links_nothing_at_run_time") else {
        return;
    };
    ddns_testkit::assert_statically_linked(&binary);
}

/// The image's file system: `/ddnsd`, the CA bundle, and `/state` owned by
/// the image's user (the volume).
struct Image {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Image {
    fn build(binary: &Path, with_ca_bundle: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(binary, root.join("ddnsd")).unwrap();
        std::fs::set_permissions(root.join("ddnsd"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        if with_ca_bundle {
            let bundle = root.join(CA_BUNDLE.trim_start_matches('/'));
            std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
            std::fs::copy(CA_BUNDLE, &bundle).unwrap();
        }
        let state = root.join("state");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::chown(&state, Some(IMAGE_USER), Some(IMAGE_USER)).unwrap();
        Self { _dir: dir, root }
    }

    /// Every file of the image, relative to its root.
    fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(&self.root).unwrap();
                    found.push(format!("/{}", relative.display()));
                }
            }
        }
        found.sort();
        found
    }

    /// `/ddnsd ARGS…` inside the image's root, as its user, with no
    /// capability, in the namespace, with only `vars` in the environment.
    fn command(&self, ns: &Netns, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut command = ns.command("unshare");
        command
            .arg(format!("--root={}", self.root.display()))
            .arg(format!("--setuid={IMAGE_USER}"))
            .arg(format!("--setgid={IMAGE_USER}"))
            .arg("/ddnsd")
            .args(args)
            .env_clear()
            .envs(vars.iter().copied());
        command
    }
}

const DRY_RUN: [(&str, &str); 5] = [
    ("DDNS_RECORDS", "home.example.com"),
    ("DDNS_PROVIDER_TYPE", "dry-run"),
    ("DDNS_IP_SOURCE_INTERFACE", "v0"),
    ("DDNS_STATE_STORE_TYPE", "file"),
    ("DDNS_STATE_STORE_PATH", "/state/state.json"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = DRY_RUN.to_vec();
    vars.extend_from_slice(extra);
    vars
}

#[test]
fn the_image_runs_alone_as_an_unprivileged_user() {
    let test = "the_image_runs_alone_as_an_unprivileged_user";
    let Some(binary) = static_binary(test) else {
        return;
    };
    let Some(ns) = Netns::create(test) else {
        return;
    };
    let image = Image::build(&binary, true);
    assert_eq!(image.files(), ["/ddnsd", CA_BUNDLE]);

    let out = Daemon::spawn(image.command(&ns, &["--version"], &[])).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, format!("ddnsd {}\n", env!("CARGO_PKG_VERSION")));

    let out = Daemon::spawn(image.command(&ns, &["check"], &DRY_RUN)).finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("configuration is valid\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  home.example.com A\n"),
        "{}",
        out.stdout
    );

    // The WAN probe is set up at start, and loads the system's root
    // certificates: the bundle is where the binary looks for it.
    let vars = with(&[
        ("DDNS_METRICS_ADDR", "127.0.0.1:9851"),
        ("DDNS_PROBE_WAN", "192.0.2.1:443"),
        ("DDNS_LOG_LEVEL", "debug"),
    ]);
    let daemon = Daemon::spawn(image.command(&ns, &[], &vars));
    daemon.wait_for("netlink address watch started", WAIT);
    daemon.wait_for("network probes ready", WAIT);
    let logs = daemon.logs();
    let roots = logs
        .lines()
        .find(|l| l.contains("loaded the system's root certificates"))
        .unwrap_or_else(|| panic!("no root certificates line:\n{logs}"));
    let added: usize = roots
        .split_once("added=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{roots}"));
    assert!(added > 50, "{roots}");

    ns.ip(&["addr", "add", "192.0.2.60/32", "dev", "v0"]);
    daemon.wait_for(
        "dry run: would set the record to this address record=home.example.com record_type=\"A\" address=192.0.2.60",
        WAIT,
    );
    // The image's HEALTHCHECK, run in the image beside the daemon.
    let check = Daemon::spawn(image.command(&ns, &["healthcheck"], &vars)).finish();
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    assert_eq!(
        check.stdout,
        "healthy: http://127.0.0.1:9851/healthz answered 200 ok\n"
    );

    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for line in [
        "starting version=",
        "configuration loaded records=1 provider=dry-run state_store=file",
        "state store opened state_store=file",
        "engine ready",
        "record updated record=home.example.com A address=192.0.2.60",
        "shutdown signal received signal=\"SIGTERM\"",
    ] {
        assert!(
            out.stderr.contains(line),
            "missing {line:?}:\n{}",
            out.stderr
        );
    }
    assert!(out.stderr.trim_end().ends_with("stopped"), "{}", out.stderr);
    let state = std::fs::metadata(image.root.join("state/state.json")).unwrap();
    assert_eq!((state.uid(), state.gid()), (IMAGE_USER, IMAGE_USER));
    assert_eq!(state.mode() & 0o777, 0o600);
}

#[test]
fn without_the_ca_bundle_the_wan_probe_cannot_run() {
    // The control for the test above: the certificate check can fail.
    let test = "without_the_ca_bundle_the_wan_probe_cannot_run";
    let Some(binary) = static_binary(test) else {
        return;
    };
    let Some(ns) = Netns::create(test) else {
        return;
    };
    let image = Image::build(&binary, false);
    let vars = with(&[("DDNS_PROBE_WAN", "192.0.2.1:443")]);
    let daemon = Daemon::spawn(image.command(&ns, &[], &vars));
    daemon.wait_for("the WAN probe cannot run", WAIT);
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap()
}

/// The words of the static build command in a shell or Dockerfile text:
/// from `RUSTFLAGS=` to the end of the command.
fn static_build_command(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let words: Vec<&str> = joined.split_whitespace().collect();
    let start = words
        .iter()
        .position(|w| w.starts_with("RUSTFLAGS="))
        .unwrap_or_else(|| panic!("no RUSTFLAGS= in:\n{text}"));
    words[start..]
        .iter()
        .take_while(|w| !matches!(**w, "&&" | "then" | "||"))
        .map(|w| {
            w.trim_end_matches(';')
                .replace("\"$static_target\"", "x86_64-unknown-linux-gnu")
        })
        .collect()
}

#[test]
fn the_image_is_built_as_the_tests_build_it() {
    let dockerfile = repo_file("deploy/docker/Dockerfile");
    let test_sh = repo_file("scripts/test.sh");
    let built = static_build_command(&dockerfile);
    assert_eq!(built, static_build_command(&test_sh));
    assert_eq!(
        built.join(" "),
        "RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked -p ddnsd \
         --target x86_64-unknown-linux-gnu --target-dir target/static"
    );
    for line in [
        "FROM rust:1-bookworm AS build",
        "FROM scratch",
        "COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
        "USER 65532:65532",
        "VOLUME [\"/state\"]",
        "    CMD [\"/ddnsd\", \"healthcheck\"]",
        "ENTRYPOINT [\"/ddnsd\"]",
    ] {
        assert!(
            dockerfile.lines().any(|l| l == line),
            "{line:?} is not in the Dockerfile"
        );
    }
    let compose = repo_file("deploy/docker/docker-compose.yml");
    for line in [
        "      test: [\"CMD\", \"/ddnsd\", \"healthcheck\"]",
        "      DDNS_PROVIDER_API_TOKEN_FILE: /run/secrets/provider_api_token",
        "    restart: unless-stopped",
        "      - state:/state",
    ] {
        assert!(
            compose.lines().any(|l| l == line),
            "{line:?} is not in docker-compose.yml"
        );
    }
}
