//! What the operator's container images run, without a container engine
//! (none runs where the tests run): the static binary that
//! `deploy/operator/Dockerfile` builds, in a root directory holding what
//! the image holds, run there as the image's user 65532 with no
//! capability and no way to gain one (no_new_privs), on a read-only root
//! where only `/tmp` is writable, with the `/dev` and `/proc` a container
//! runtime provides: as `deploy/operator/deployment.yaml` runs it.
//!
//! - The `update-only` image (the binary and the CA bundle, nothing else):
//!   `--version`, `crd`, `run` without a cluster, and `run` against the
//!   fake API server over HTTP, delivering a zone to a real BIND by RFC
//!   2136 updates, and failing a `zonefile` zone with a status that names
//!   the missing `named-checkzone`.
//! - The default image (the same files over Debian 12 with `bind9-utils`):
//!   this machine's `/usr` (Debian 12, where the tests install
//!   `bind9-utils`) stands for the image's, read-only; `run` delivers a
//!   zone file into a real BIND with the default `named-checkzone`, `rndc
//!   reconfig` and `rndc reload` commands.
//!
//! `scripts/test.sh` builds the binary and names it in
//! `DDNS_OPERATOR_STATIC_BINARY`; without it, or when not root, these tests
//! skip (or fail under `DDNS_REQUIRE_SYSTEM_TESTS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::harness::{self, NS, condition, fake_api, zone_json};
use common::{deploy_dir, repo_root, yaml_documents};
use ddns_kube_fake::{FakeApi, HttpServer};
use ddns_testkit::{Bind, BindOptions, Daemon, Output, skip_or_fail};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
/// The images' user and group (`USER 65532:65532`).
const IMAGE_USER: u32 = 65532;
/// Where both images hold the binary (their `ENTRYPOINT`).
const BINARY: &str = "/usr/local/bin/ddns-operator";
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The PATH a container runtime gives an image that sets none, and the
/// one Debian's base image sets: the same.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the tests put the kubeconfig naming the fake API server.
const KUBECONFIG: &str = "/etc/ddns/kubeconfig";
/// The identity of the operator in its Lease.
const IDENTITY: &str = "ddns-operator-0";

fn static_binary(test: &str) -> Option<PathBuf> {
    ddns_testkit::static_binary("DDNS_OPERATOR_STATIC_BINARY", test)
}

/// The static binary, when there is one and this process may build a
/// root and run in it as another user (`unshare`, `mount`: root only).
fn prerequisites(test: &str) -> Option<PathBuf> {
    let binary = static_binary(test)?;
    // /proc/self belongs to the effective user.
    if std::fs::metadata("/proc/self").map_or(true, |m| m.uid() != 0) {
        skip_or_fail(
            test,
            "not root (unshare --root, --setuid and the mounts need it)",
        );
        return None;
    }
    Some(binary)
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap()
}

#[test]
fn the_static_binary_links_nothing_at_run_time() {
    let Some(binary) = static_binary("the_static_binary_links_nothing_at_run_time") else {
        return;
    };
    ddns_testkit::assert_statically_linked(&binary);
}

/// A path in single quotes, for the shell.
fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// An image's file system, and what is mounted into it when it runs.
struct Image {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// `(outside, inside, read-only)`: directories of this machine the
    /// container sees (volumes, and the default image's Debian).
    mounts: Vec<(PathBuf, PathBuf, bool)>,
}

impl Image {
    /// The `update-only` image: the binary and the CA bundle.
    fn update_only(binary: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let image = Self {
            _dir: dir,
            root,
            mounts: Vec::new(),
        };
        image.add(BINARY, &std::fs::read(binary).unwrap(), 0o755);
        image.add(CA_BUNDLE, &std::fs::read(CA_BUNDLE).unwrap(), 0o644);
        // Mount points: the runtime's /dev and /proc, the Deployment's
        // emptyDir at /tmp.
        for point in ["dev", "proc", "tmp"] {
            std::fs::create_dir(image.root.join(point)).unwrap();
        }
        image
    }

    /// The default image: the same files over Debian 12 with bind9-utils,
    /// for which this machine's /usr stands (read-only), with the links
    /// of Debian's merged /usr.
    fn full(binary: &Path) -> Self {
        let mut image = Self::update_only(binary);
        for dir in ["/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64"] {
            image.mount(Path::new(dir), Path::new(dir), true);
        }
        for dir in ["bin", "sbin", "lib", "lib64"] {
            std::os::unix::fs::symlink(format!("usr/{dir}"), image.root.join(dir)).unwrap();
        }
        image
    }

    /// Puts a file into the image, owned by root.
    fn add(&self, path: &str, content: &[u8], mode: u32) {
        let file = self.root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Mounts `outside` at `inside` when the image runs.
    fn mount(&mut self, outside: &Path, inside: &Path, read_only: bool) {
        self.mounts
            .push((outside.to_path_buf(), inside.to_path_buf(), read_only));
    }

    /// Every file of the image, relative to its root.
    fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_symlink() {
                    continue;
                }
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

    /// `ddns-operator ARGS…` in the image, as a container runtime runs it
    /// under the Deployment's security context: in a mount namespace of
    /// its own, the root read-only but for a fresh `/tmp`, `/dev` with
    /// the usual devices, `/proc`, the mounts; then, with no_new_privs, as
    /// user and group 65532 (which leaves no capability), with only `vars`
    /// and PATH in the environment. The network is this machine's, where
    /// the fake API server and BIND listen.
    fn command(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut script = String::from(
            "set -eu\n\
             mount --bind \"$0\" \"$0\"\n\
             mount -t tmpfs -o mode=1777,size=64m tmpfs \"$0/tmp\"\n\
             mount -t tmpfs -o mode=755,size=64k tmpfs \"$0/dev\"\n\
             for device in null zero full random urandom; do\n\
             \ttouch \"$0/dev/$device\"\n\
             \tmount --bind \"/dev/$device\" \"$0/dev/$device\"\n\
             done\n\
             mount -t proc proc \"$0/proc\"\n",
        );
        for (outside, inside, read_only) in &self.mounts {
            let options = if *read_only { "-o ro " } else { "" };
            let inside = quoted(inside);
            script.push_str(&format!(
                "mkdir -p \"$0\"{inside}\nmount --bind {options}{} \"$0\"{inside}\n",
                quoted(outside)
            ));
        }
        script.push_str(&format!(
            "mount -o remount,bind,ro \"$0\"\n\
             exec setpriv --no-new-privs -- \
             unshare --root=\"$0\" --setuid={IMAGE_USER} --setgid={IMAGE_USER} -- \"$@\"\n"
        ));
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(script)
            .arg(&self.root)
            .arg(BINARY)
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .envs(vars.iter().copied());
        command
    }

    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Daemon::spawn(self.command(args, vars)).finish()
    }
}

#[test]
fn the_update_only_image_runs_alone_as_an_unprivileged_user() {
    let test = "the_update_only_image_runs_alone_as_an_unprivileged_user";
    let Some(binary) = prerequisites(test) else {
        return;
    };
    let image = Image::update_only(&binary);
    assert_eq!(image.files(), [CA_BUNDLE, BINARY]);

    let out = image.run(&["--version"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("ddns-operator {}\n", env!("CARGO_PKG_VERSION"))
    );

    // `docker run IMAGE crd | kubectl apply -f -` installs what the
    // repository's file holds.
    let out = image.run(&["crd"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let file = repo_file("deploy/operator/crds.yaml");
    if out.stdout != file {
        let line = file
            .lines()
            .zip(out.stdout.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| file.lines().count().min(out.stdout.lines().count()));
        panic!(
            "`ddns-operator crd` in the image differs from deploy/operator/crds.yaml from line {} \
             (is DDNS_OPERATOR_STATIC_BINARY built from this tree?):\n  file:   {}\n  binary: {}",
            line + 1,
            file.lines().nth(line).unwrap_or("(end of file)"),
            out.stdout.lines().nth(line).unwrap_or("(end of output)"),
        );
    }

    // Outside a cluster and without a kubeconfig: a runtime error that
    // says where the settings were looked for.
    let out = image.run(&["run"], &[("DDNS_OPERATOR_METRICS_ADDR", "off")]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ERROR cannot reach the Kubernetes API (in-cluster settings or KUBECONFIG)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("in-cluster: (failed to read an incluster environment variable")
            && out
                .stderr
                .contains("kubeconfig: (failed to find the path of kubeconfig)"),
        "{}",
        out.stderr
    );
    // In a pod whose service-account token is not mounted
    // (automountServiceAccountToken: false).
    let in_pod = [
        ("DDNS_OPERATOR_METRICS_ADDR", "off"),
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
    ];
    let out = image.run(&["run"], &in_pod);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ERROR cannot reach the Kubernetes API (in-cluster settings or KUBECONFIG)")
            && out
                .stderr
                .contains("in-cluster: (failed to read the default namespace"),
        "{}",
        out.stderr
    );
}

/// The fake API server over HTTP, from a runtime of its own.
struct Served {
    server: HttpServer,
    // Dropped after the server: its task runs there.
    _runtime: tokio::runtime::Runtime,
}

fn serve(fake: &FakeApi) -> Served {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = {
        let _entered = runtime.enter();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        fake.serve_http(tokio::net::TcpListener::from_std(listener).unwrap())
            .unwrap()
    };
    Served {
        server,
        _runtime: runtime,
    }
}

/// A loopback address where nothing listens yet, for the metrics endpoint.
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `GET path` over HTTP/1.1: the status code and the body.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let code = answer.split(' ').nth(1)?.parse().ok()?;
    Some((code, answer.split_once("\r\n\r\n")?.1.to_string()))
}

/// Waits until `check` holds, showing the operator's logs otherwise.
fn wait_until(operator: &Daemon, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the operator's logs:\n{}",
            operator.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The settings of `run` against the fake, as the Deployment sets them.
fn run_vars(metrics: &str) -> Vec<(&str, &str)> {
    vec![
        ("KUBECONFIG", KUBECONFIG),
        ("DDNS_OPERATOR_METRICS_ADDR", metrics),
        ("DDNS_OPERATOR_LEASE_NAME", "ddns-operator"),
        ("DDNS_OPERATOR_LEASE_NAMESPACE", NS),
        ("DDNS_OPERATOR_IDENTITY", IDENTITY),
        ("DDNS_LOG_LEVEL", "info"),
    ]
}

/// Waits for `/readyz` to answer that this replica leads, then checks
/// the process runs as the image's user, without capabilities, and holds
/// the Lease.
fn assert_ready_and_unprivileged(operator: &Daemon, metrics: SocketAddr, fake: &FakeApi) {
    let mut last = None;
    wait_until(operator, "/readyz to answer 200", || {
        last = get(metrics, "/readyz");
        last.as_ref().is_some_and(|(code, _)| *code == 200)
    });
    assert_eq!(last, Some((200, "ready: leading\n".to_string())));
    assert_eq!(get(metrics, "/healthz"), Some((200, "ok\n".to_string())));

    let status = std::fs::read_to_string(format!("/proc/{}/status", operator.pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in:\n{status}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Name"), "ddns-operator");
    assert_eq!(field("Uid"), "65532 65532 65532 65532");
    assert_eq!(field("Gid"), "65532 65532 65532 65532");
    assert_eq!(field("Groups"), "");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(field(set), "0000000000000000", "{set}");
    }
    assert_eq!(field("NoNewPrivs"), "1");

    let lease = fake
        .get_json(
            "coordination.k8s.io/v1",
            "leases",
            Some(NS),
            "ddns-operator",
        )
        .expect("the Lease ddns-operator");
    assert_eq!(lease["spec"]["holderIdentity"], IDENTITY, "{lease}");
}

/// Stops the operator as the kubelet does.
fn stop(operator: Daemon) {
    operator.signal("TERM");
    let out = operator.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.trim_end().ends_with("stopped"), "{}", out.stderr);
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// A zone of `zone_name` delivered by `delivery` (to the instances
/// labelled `ddns.dev/server: test` in update mode), with its name server
/// `ns1` and the A record `www`.
fn seed_zone(fake: &FakeApi, name: &str, zone_name: &str, delivery: &str, www: &str) {
    let mut spec = json!({
        "zoneName": zone_name, "ttl": 300,
        "soa": {"primaryNs": format!("ns1.{zone_name}"), "adminEmail": format!("hostmaster@{zone_name}")},
        "nameServers": [format!("ns1.{zone_name}")],
        "delivery": delivery,
    });
    if delivery == "update" {
        spec["instanceSelector"] = json!({"matchLabels": {"ddns.dev/server": "test"}});
    }
    fake.insert(&object("DNSZone", name, spec)).unwrap();
    for (record, address) in [("ns1", "192.0.2.53"), ("www", www)] {
        fake.insert(&object(
            "ARecord",
            &format!("{name}-{record}"),
            json!({"zoneRef": name, "name": record, "addresses": [address]}),
        ))
        .unwrap();
    }
}

/// The zone's `Ready` condition as `(status, reason, message)`.
fn ready(fake: &FakeApi, zone: &str) -> Option<(String, String, String)> {
    condition(&zone_json(fake, zone), "Ready")
}

#[test]
fn the_update_only_image_delivers_updates_and_cannot_check_zone_files() {
    let test = "the_update_only_image_delivers_updates_and_cannot_check_zone_files";
    let Some(binary) = prerequisites(test) else {
        return;
    };
    let Some(bind) = Bind::start(test, BindOptions::new()) else {
        return;
    };
    let fake = fake_api();
    let key = bind.key("ddns-key");
    fake.insert(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": NS},
        "data": {"secret": harness::base64(key.secret())}
    }))
    .unwrap();
    let mut instance = object(
        "Bind9Instance",
        "bind",
        json!({
            "address": bind.addr().ip().to_string(), "port": bind.addr().port(),
            "role": "primary",
            "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
            "tsigKeyName": key.name(), "tsigAlgorithm": key.algorithm(),
        }),
    );
    instance["metadata"]["labels"] = json!({"ddns.dev/server": "test"});
    fake.insert(&instance).unwrap();
    seed_zone(&fake, "updated", "example.test", "update", "192.0.2.80");
    seed_zone(&fake, "files", "files.test", "zonefile", "192.0.2.81");
    let served = serve(&fake);

    let image = Image::update_only(&binary);
    image.add(KUBECONFIG, served.server.kubeconfig(NS).as_bytes(), 0o644);
    let metrics = free_address();
    let metrics_text = metrics.to_string();
    let mut vars = run_vars(&metrics_text);
    // The emptyDir the Deployment mounts: the only place it may write.
    vars.push(("DDNS_OPERATOR_ZONE_DIR", "/tmp"));
    let operator = Daemon::spawn(image.command(&["run"], &vars));
    assert_ready_and_unprivileged(&operator, metrics, &fake);

    wait_until(&operator, "the update zone Ready", || {
        ready(&fake, "updated").is_some_and(|(status, _, _)| status == "True")
    });
    assert_eq!(bind.query("www.example.test", "A"), ["192.0.2.80"]);

    // No named-checkzone in this image: the zone-file zone says so.
    wait_until(&operator, "the zone-file zone to fail", || {
        ready(&fake, "files").is_some_and(|(status, _, _)| status == "False")
    });
    let (_, _, message) = ready(&fake, "files").unwrap();
    assert!(
        message.contains("command `named-checkzone -k fail -i full files.test /tmp/")
            && message.contains("cannot be started: No such file or directory"),
        "{message}"
    );
    stop(operator);
}

#[test]
fn the_default_image_delivers_zone_files_with_debians_bind_tools() {
    let test = "the_default_image_delivers_zone_files_with_debians_bind_tools";
    let Some(binary) = prerequisites(test) else {
        return;
    };
    let Some(bind) = Bind::start(test, BindOptions::new().rndc(true)) else {
        return;
    };
    // The volume shared with named, writable by the operator alone.
    let zones = bind.zones_dir().unwrap();
    std::os::unix::fs::chown(&zones, Some(IMAGE_USER), Some(IMAGE_USER)).unwrap();
    let fake = fake_api();
    seed_zone(&fake, "files", "zf.test", "zonefile", "192.0.2.1");
    let served = serve(&fake);

    let mut image = Image::full(&binary);
    image.add(KUBECONFIG, served.server.kubeconfig(NS).as_bytes(), 0o644);
    // Where rndc looks for the server and its key (a Secret, mounted).
    let rndc_conf = std::fs::read(bind.dir().join("rndc.conf")).unwrap();
    image.add("/etc/bind/rndc.conf", &rndc_conf, 0o644);
    image.mount(&zones, &zones, false);
    let metrics = free_address();
    let metrics_text = metrics.to_string();
    let mut vars = run_vars(&metrics_text);
    vars.push(("DDNS_OPERATOR_ZONE_DIR", zones.to_str().unwrap()));
    // The default DDNS_OPERATOR_CHECKZONE, _RELOAD_COMMAND and
    // _RECONFIG_COMMAND, found on the image's PATH.
    let operator = Daemon::spawn(image.command(&["run"], &vars));
    assert_ready_and_unprivileged(&operator, metrics, &fake);

    wait_until(&operator, "the zone-file zone Ready", || {
        ready(&fake, "files").is_some_and(|(status, _, _)| status == "True")
    });
    let (_, reason, message) = ready(&fake, "files").unwrap();
    assert_eq!(reason, "Delivered");
    assert!(
        message.starts_with("zone file in place with serial "),
        "{message}"
    );
    let file = std::fs::metadata(zones.join("zf.test.zone")).unwrap();
    assert_eq!((file.uid(), file.gid()), (IMAGE_USER, IMAGE_USER));
    // Loaded by `rndc reconfig` from the image, through zones.conf.
    wait_until(&operator, "BIND to serve the zone", || {
        bind.query("www.zf.test", "A") == ["192.0.2.1"]
    });
    stop(operator);
}

/// The words of every static build command in a shell or Dockerfile
/// text: from `RUSTFLAGS=` to the end of the command.
fn static_build_commands(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    let words: Vec<&str> = joined.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .filter(|(_, w)| w.starts_with("RUSTFLAGS="))
        .map(|(start, _)| {
            words[start..]
                .iter()
                .take_while(|w| !matches!(**w, "&&" | "then" | "||"))
                .map(|w| {
                    w.trim_end_matches(';')
                        .replace("\"$static_target\"", "x86_64-unknown-linux-gnu")
                })
                .collect()
        })
        .collect()
}

/// The stages of a Dockerfile: each `FROM` line with the lines up to the
/// next, comments left out.
fn stages(dockerfile: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for line in dockerfile.lines().filter(|l| !l.starts_with('#')) {
        if line.starts_with("FROM ") {
            stages.push((line.to_string(), Vec::new()));
        } else if let Some((_, lines)) = stages.last_mut() {
            lines.push(line.to_string());
        }
    }
    stages
}

#[test]
fn the_images_are_built_as_the_tests_build_them() {
    let dockerfile = repo_file("deploy/operator/Dockerfile");
    let built = static_build_commands(&dockerfile);
    assert_eq!(built.len(), 1, "{built:?}");
    let operator_builds: Vec<Vec<String>> = static_build_commands(&repo_file("scripts/test.sh"))
        .into_iter()
        .filter(|words| words.windows(2).any(|w| w == ["-p", "ddns-operator"]))
        .collect();
    assert_eq!(operator_builds, built);
    assert_eq!(
        built[0].join(" "),
        "RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked -p ddns-operator \
         --target x86_64-unknown-linux-gnu --target-dir target/static"
    );

    let stages = stages(&dockerfile);
    let names: Vec<&str> = stages.iter().map(|(from, _)| from.as_str()).collect();
    // The last stage is what `docker build` makes without --target.
    assert_eq!(
        names,
        [
            "FROM rust:1-bookworm AS build",
            "FROM scratch AS update-only",
            "FROM debian:bookworm-slim AS full",
        ]
    );
    for (from, lines) in &stages[1..] {
        for line in [
            "USER 65532:65532",
            &format!("ENTRYPOINT [\"{BINARY}\"]"),
            "CMD [\"run\"]",
        ] {
            assert!(lines.iter().any(|l| l == line), "{from}: no {line:?}");
        }
    }
    let copies = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with("COPY "))
            .cloned()
            .collect()
    };
    assert_eq!(
        copies(&stages[1].1),
        [
            format!("COPY --from=build /ddns-operator {BINARY}"),
            format!("COPY --from=build {CA_BUNDLE} {CA_BUNDLE}"),
        ]
    );
    assert_eq!(copies(&stages[2].1), ["COPY --from=update-only / /"]);
    assert!(
        stages[2]
            .1
            .iter()
            .any(|l| l.contains("apt-get install -y --no-install-recommends bind9-utils")),
        "the default image installs bind9-utils"
    );
}

#[test]
fn bind9_utils_holds_named_checkzone_and_rndc() {
    // The default image installs bind9-utils for these two programs, at
    // the paths its comments give: Debian's own index says where they are.
    let test = "bind9_utils_holds_named_checkzone_and_rndc";
    let Ok(out) = Command::new("dpkg")
        .args(["-S", "/usr/bin/named-checkzone", "/usr/sbin/rndc"])
        .output()
    else {
        skip_or_fail(test, "not a Debian system (no dpkg)");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        skip_or_fail(
            test,
            &format!(
                "bind9-utils is not installed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        );
        return;
    }
    assert_eq!(
        text,
        "bind9-utils: /usr/bin/named-checkzone\nbind9-utils: /usr/sbin/rndc\n"
    );
}

#[test]
fn the_deployment_runs_the_default_image_as_its_user() {
    let path = deploy_dir().join("deployment.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("docker build -f deploy/operator/Dockerfile "),
        "deployment.yaml says how the image is built"
    );
    let deployment = yaml_documents(&path).remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        format!(
            "ghcr.io/example/ddns-operator:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    // The image's ENTRYPOINT runs the binary; the Deployment gives the command.
    assert!(container["command"].is_null(), "{container}");
    assert_eq!(container["args"], json!(["run"]));
    assert_eq!(pod["securityContext"]["runAsUser"], IMAGE_USER);
    assert_eq!(pod["securityContext"]["runAsGroup"], IMAGE_USER);
    // The only writable place on the read-only root.
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/tmp"),
        "{container}"
    );
}
