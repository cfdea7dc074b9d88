//! The BIND9 harness against the real `named`, `dig` and `nsupdate`.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use ddns_testkit::{Bind, BindOptions, Netns};

/// `nsupdate -y ALG:NAME:SECRET` run by hand, as a user of the server would.
fn nsupdate_with_secret(bind: &Bind, key: &str, updates: &str) -> std::process::Output {
    let key = bind.key(key);
    let mut child = Command::new("nsupdate")
        .args(["-t", "5", "-y"])
        .arg(format!(
            "{}:{}:{}",
            key.algorithm(),
            key.name(),
            key.secret()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsupdate");
    let script = format!(
        "server {} {}\nzone example.test\n{updates}\nsend\n",
        bind.addr().ip(),
        bind.addr().port()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn dig(args: &[&str]) -> std::process::Output {
    Command::new("dig")
        .args(["+time=1", "+tries=1"])
        .args(args)
        .output()
        .expect("run dig")
}

#[test]
fn serves_the_zone_and_counts_a_signed_update() {
    let Some(bind) = Bind::start(
        "serves_the_zone_and_counts_a_signed_update",
        BindOptions::new(),
    ) else {
        return;
    };
    let ip = bind.addr().ip();
    assert!(ip.is_loopback() && ip.to_string() != "127.0.0.1", "{ip}");
    assert_eq!(bind.zone(), "example.test");
    assert_eq!(bind.query("ns.example.test", "A"), [ip.to_string()]);
    assert_eq!(
        bind.query("example.test", "TXT"),
        [format!("\"{}\"", bind.token())]
    );
    assert_eq!(bind.query("x.example.test", "A"), Vec::<String>::new());
    assert_eq!(bind.update_count(), 0);

    let output = nsupdate_with_secret(
        &bind,
        "ddns-key",
        "update add x.example.test 60 A 192.0.2.1",
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(bind.query("x.example.test", "A"), ["192.0.2.1"]);
    assert_eq!(bind.update_count(), 1);
    assert_eq!(bind.counter("nsstats", "UpdateDone"), 1);
    assert!(
        bind.log()
            .contains("adding an RR at 'x.example.test' A 192.0.2.1"),
        "{}",
        bind.log()
    );
}

#[test]
fn an_unsigned_or_wrongly_signed_update_is_refused() {
    let Some(bind) = Bind::start(
        "an_unsigned_or_wrongly_signed_update_is_refused",
        BindOptions::new(),
    ) else {
        return;
    };
    let err = bind
        .nsupdate(
            None,
            "example.test",
            &["update add u.example.test 60 A 192.0.2.1"],
        )
        .unwrap_err();
    assert!(err.contains("REFUSED"), "{err}");

    let mut wrong = Command::new("nsupdate")
        .args([
            "-t",
            "5",
            "-y",
            "hmac-sha256:ddns-key:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    write!(
        wrong.stdin.take().unwrap(),
        "server {} {}\nzone example.test\nupdate add u.example.test 60 A 192.0.2.1\nsend\n",
        bind.addr().ip(),
        bind.addr().port()
    )
    .unwrap();
    let output = wrong.wait_with_output().unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(bind.query("u.example.test", "A"), Vec::<String>::new());
    assert_eq!(bind.update_count(), 2);
    assert_eq!(bind.counter("nsstats", "ReqBadSIG"), 1);
    assert!(bind.log().contains("BADSIG"), "{}", bind.log());
}

#[test]
fn instances_started_together_are_apart() {
    let test = "instances_started_together_are_apart";
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Bind::start(test, BindOptions::new()));
        let b = s.spawn(|| Bind::start(test, BindOptions::new()));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (Some(a), Some(b)) = (a, b) else { return };
    assert_ne!(a.addr().ip(), b.addr().ip());
    assert_ne!(a.token(), b.token());
    for bind in [&a, &b] {
        assert_eq!(
            bind.query("example.test", "TXT"),
            [format!("\"{}\"", bind.token())]
        );
    }
}

#[test]
fn an_update_survives_a_restart() {
    let Some(mut bind) = Bind::start("an_update_survives_a_restart", BindOptions::new()) else {
        return;
    };
    bind.nsupdate(
        Some("ddns-key"),
        "example.test",
        &["update add kept.example.test 60 AAAA 2001:db8::1"],
    )
    .unwrap();
    let addr = bind.addr();

    bind.stop();
    let down = dig(&[
        "-p",
        &addr.port().to_string(),
        &format!("@{}", addr.ip()),
        "example.test",
        "SOA",
    ]);
    assert!(!down.status.success(), "named still answers: {down:?}");

    bind.start_again();
    assert_eq!(bind.addr(), addr);
    assert_eq!(bind.query("kept.example.test", "AAAA"), ["2001:db8::1"]);
    assert_eq!(bind.update_count(), 0);
}

#[test]
fn every_requested_key_may_update_and_its_file_and_secret_agree() {
    let options = BindOptions::new()
        .key("k256", "hmac-sha256")
        .key("k384", "hmac-sha384")
        .key("k512", "hmac-sha512");
    let Some(bind) = Bind::start(
        "every_requested_key_may_update_and_its_file_and_secret_agree",
        options,
    ) else {
        return;
    };
    let names: Vec<&str> = bind.keys().iter().map(|k| k.name()).collect();
    assert_eq!(names, ["k256", "k384", "k512"]);
    for (i, key) in bind.keys().iter().enumerate() {
        let file = std::fs::read_to_string(key.file()).unwrap();
        assert!(file.contains(&format!("key \"{}\"", key.name())), "{file}");
        assert!(
            file.contains(&format!("algorithm {};", key.algorithm())),
            "{file}"
        );
        assert!(
            file.contains(&format!("secret \"{}\";", key.secret())),
            "{file}"
        );
        let debug = format!("{key:?}");
        assert!(
            !debug.contains(key.secret()) && debug.contains("<redacted>"),
            "{debug}"
        );

        let name = format!("k{i}.example.test");
        let output = nsupdate_with_secret(
            &bind,
            key.name(),
            &format!("update add {name} 60 A 192.0.2.{i}"),
        );
        assert!(output.status.success(), "{}: {output:?}", key.name());
        bind.nsupdate(
            Some(key.name()),
            bind.zone(),
            &[&format!("update add {name} 60 TXT \"{}\"", key.name())],
        )
        .unwrap();
        assert_eq!(bind.query(&name, "A"), [format!("192.0.2.{i}")]);
        assert_eq!(bind.query(&name, "TXT"), [format!("\"{}\"", key.name())]);
    }
    assert_eq!(bind.key("k384").algorithm(), "hmac-sha384");
    assert_eq!(bind.update_count(), 6);
}

#[test]
fn the_other_zone_refuses_every_key() {
    let Some(bind) = Bind::start(
        "the_other_zone_refuses_every_key",
        BindOptions::new().other_zone(true),
    ) else {
        return;
    };
    let other = bind.other_zone().unwrap();
    assert_eq!(other, "other.test");
    assert_eq!(
        bind.query("ns.other.test", "A"),
        [bind.addr().ip().to_string()]
    );
    let err = bind
        .nsupdate(
            Some("ddns-key"),
            other,
            &["update add x.other.test 60 A 192.0.2.1"],
        )
        .unwrap_err();
    assert!(err.contains("REFUSED"), "{err}");
    assert_eq!(bind.query("x.other.test", "A"), Vec::<String>::new());
}

#[test]
fn unsigned_updates_work_when_allowed() {
    let Some(bind) = Bind::start(
        "unsigned_updates_work_when_allowed",
        BindOptions::new().allow_unsigned_updates(true),
    ) else {
        return;
    };
    bind.nsupdate(
        None,
        bind.zone(),
        &["update add open.example.test 60 A 192.0.2.9"],
    )
    .unwrap();
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &["update add open.example.test 60 A 192.0.2.10"],
    )
    .unwrap();
    assert_eq!(
        bind.query("open.example.test", "A"),
        ["192.0.2.10", "192.0.2.9"]
    );
}

#[test]
fn a_small_udp_size_truncates_large_answers() {
    let mut options = BindOptions::new().max_udp_size(512);
    for i in 1..=60 {
        options = options.record(&format!("big IN A 10.0.0.{i}"));
    }
    let Some(bind) = Bind::start("a_small_udp_size_truncates_large_answers", options) else {
        return;
    };
    let udp_only = dig(&[
        "+norec",
        "+ignore",
        "-p",
        &bind.addr().port().to_string(),
        &format!("@{}", bind.addr().ip()),
        "big.example.test",
        "A",
    ]);
    let text = String::from_utf8_lossy(&udp_only.stdout);
    assert!(text.contains("flags: qr aa tc;"), "{text}");
    // dig retries over TCP by itself and gets every record.
    assert_eq!(bind.query("big.example.test", "A").len(), 60);
}

#[test]
fn the_doh_listener_answers_with_a_certificate_from_its_ca() {
    let Some(bind) = Bind::start(
        "the_doh_listener_answers_with_a_certificate_from_its_ca",
        BindOptions::new().doh(true),
    ) else {
        return;
    };
    let url = bind.doh_url().unwrap();
    let ca = bind.ca_file().unwrap();
    let ip = bind.addr().ip();
    let port = url
        .strip_prefix(&format!("https://{ip}:"))
        .and_then(|rest| rest.strip_suffix("/dns-query"))
        .unwrap_or_else(|| panic!("{url}"));
    assert_ne!(port, bind.addr().port().to_string());
    let output = dig(&[
        "+https",
        "+short",
        &format!("+tls-ca={}", ca.display()),
        "-p",
        port,
        &format!("@{ip}"),
        "example.test",
        "TXT",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(text.trim(), format!("\"{}\"", bind.token()));

    // The certificate is really checked: another CA does not do.
    let other_ca = bind.dir().join("other-ca.crt");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "/dev/null",
        ])
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let untrusted = dig(&[
        "+https",
        "+short",
        &format!("+tls-ca={}", other_ca.display()),
        "-p",
        port,
        &format!("@{ip}"),
        "example.test",
        "TXT",
    ]);
    let text = String::from_utf8_lossy(&untrusted.stdout);
    assert!(!text.contains(bind.token()), "{untrusted:?}");
}

#[test]
fn without_doh_there_is_no_url_or_certificate() {
    let Some(bind) = Bind::start(
        "without_doh_there_is_no_url_or_certificate",
        BindOptions::new(),
    ) else {
        return;
    };
    assert_eq!(bind.doh_url(), None);
    assert_eq!(bind.ca_file(), None);
}

#[test]
fn runs_inside_a_network_namespace() {
    let test = "runs_inside_a_network_namespace";
    let Some(ns) = Netns::create(test) else {
        return;
    };
    let Some(bind) = Bind::start(test, BindOptions::new().netns(Some(ns.name().to_owned()))) else {
        return;
    };
    assert_eq!(bind.addr(), "127.0.0.1:53".parse().unwrap());
    assert_eq!(bind.query("ns.example.test", "A"), ["127.0.0.1"]);
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &["update add ns1.example.test 60 A 192.0.2.5"],
    )
    .unwrap();
    assert_eq!(bind.query("ns1.example.test", "A"), ["192.0.2.5"]);
    assert_eq!(bind.update_count(), 1);
}

#[test]
fn a_bad_record_line_is_reported_by_named_checkzone() {
    let test = "a_bad_record_line_is_reported_by_named_checkzone";
    let result = std::panic::catch_unwind(|| {
        Bind::start(test, BindOptions::new().record("bad IN A not-an-address"))
    });
    match result {
        Ok(None) => {} // skipped
        Ok(Some(_)) => panic!("named accepted a bad record"),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(
                message.contains("named-checkzone rejects zone example.test")
                    && message.contains("bad IN A not-an-address"),
                "{message}"
            );
        }
    }
}

#[test]
fn rndc_controls_the_instance_and_its_zones_include_is_read() {
    let Some(bind) = Bind::start("rndc_controls_the_instance", BindOptions::new().rndc(true))
    else {
        return;
    };
    assert!(
        bind.rndc(&["status"])
            .unwrap()
            .contains("server is up and running")
    );
    let zones = bind.zones_dir().unwrap();
    std::fs::write(
        zones.join("extra.test.zone"),
        "$TTL 60\n@ SOA ns.extra.test. hostmaster.extra.test. 1 3600 600 86400 60\n@ NS ns.extra.test.\nns A 192.0.2.53\n",
    )
    .unwrap();
    std::fs::write(
        zones.join("zones.conf"),
        format!(
            "zone \"extra.test\" {{ type primary; file \"{}/extra.test.zone\"; }};\n",
            zones.display()
        ),
    )
    .unwrap();
    bind.rndc(&["reconfig"]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while bind.query("ns.extra.test", "A").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(bind.query("ns.extra.test", "A"), ["192.0.2.53"]);
    let error = bind.rndc(&["reload", "missing.test"]).unwrap_err();
    assert!(error.contains("not found"), "{error}");
    assert!(
        Bind::start("no_rndc", BindOptions::new())
            .unwrap()
            .zones_dir()
            .is_none()
    );
}
