//! kube-runtime and kube-lease-manager against the fake: `watcher` (list and
//! watch, streaming lists, resume, relist after compaction), a real
//! `Controller` with a finalizer, the event `Recorder`, and leader election.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use ddns_kube_fake::{FakeApi, RequestMatcher, Verb};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use kube::runtime::watcher::{self, Event as W};
use kube::{Resource, ResourceExt};
use kube_lease_manager::LeaseManagerBuilder;
use serde_json::json;
use support::{DNSZone, eventually, fake_with_zones, status_of, zone};

type Events = BoxStream<'static, Result<W<ConfigMap>, watcher::Error>>;

fn config_map(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    if !labels.is_empty() {
        cm.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        );
    }
    cm
}

/// The next watcher event, shortened to `kind name`, within five seconds.
async fn next(events: &mut Events) -> String {
    let event = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a watcher event within 5 s")
        .expect("the watcher stream does not end");
    match event {
        Ok(W::Init) => "init".into(),
        Ok(W::InitApply(o)) => format!("init-apply {}", o.name_any()),
        Ok(W::InitDone) => "init-done".into(),
        Ok(W::Apply(o)) => format!("apply {} {}", o.name_any(), data_of(&o)),
        Ok(W::Delete(o)) => format!("delete {}", o.name_any()),
        Err(watcher::Error::WatchError(status)) => {
            format!("error {} {}", status.code, status.reason)
        }
        Err(other) => format!("error {other}"),
    }
}

fn data_of(cm: &ConfigMap) -> String {
    cm.data
        .as_ref()
        .map(|d| {
            d.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn watches(fake: &FakeApi) -> Vec<ddns_kube_fake::RecordedRequest> {
    fake.requests_matching(&RequestMatcher::verb(Verb::Watch))
}

#[tokio::test]
async fn watcher_lists_then_follows_changes() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("before", &[]))
        .await
        .unwrap();
    let mut events: Events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-apply before");
    assert_eq!(next(&mut events).await, "init-done");

    api.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut events).await, "apply a k=v");
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(next(&mut events).await, "delete a");

    // The exact calls kube-runtime 5's default watcher makes.
    let list = &fake.requests_matching(&RequestMatcher::verb(Verb::List))[0];
    assert_eq!(list.path, "/api/v1/namespaces/apps/configmaps");
    assert_eq!(list.query, [("limit".to_string(), "500".to_string())]);
    let watch = &watches(&fake)[0];
    for (key, value) in [
        ("watch", "true"),
        ("timeoutSeconds", "290"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", "1"),
    ] {
        assert_eq!(watch.query_param(key), Some(value), "{key}");
    }
}

#[tokio::test]
async fn compaction_makes_the_watcher_relist() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut events: Events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-done");
    api.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");

    fake.compact();
    assert_eq!(next(&mut events).await, "error 410 Expired");
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-apply a");
    assert_eq!(next(&mut events).await, "init-done");
    api.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply b ");
    assert_eq!(fake.count(&RequestMatcher::verb(Verb::List)), 2);

    // A watch from a compacted version is told so in the stream.
    let mut stream = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert_eq!(status.message, "too old resource version: 1 (2)");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none());
}

#[tokio::test]
async fn a_dropped_watch_resumes_without_relisting_or_losing_events() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut events: Events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-done");
    let created = api
        .create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");

    fake.close_watches();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut events).await, "apply a k=v");
    assert_eq!(fake.count(&RequestMatcher::verb(Verb::List)), 1);
    let resumed = &watches(&fake)[1];
    assert_eq!(
        resumed.query_param("resourceVersion"),
        created.metadata.resource_version.as_deref()
    );
}

#[tokio::test]
async fn streaming_list_sends_initial_events_and_a_bookmark() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("before", &[]))
        .await
        .unwrap();
    let config = watcher::Config::default().streaming_lists();
    let mut events: Events = watcher::watcher(api.clone(), config).boxed();
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-apply before");
    assert_eq!(next(&mut events).await, "init-done");
    api.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");

    assert_eq!(fake.count(&RequestMatcher::verb(Verb::List)), 0);
    let watch = &watches(&fake)[0];
    assert_eq!(watch.query_param("sendInitialEvents"), Some("true"));
    assert_eq!(watch.query_param("resourceVersion"), Some("0"));
    assert_eq!(
        watch.query_param("resourceVersionMatch"),
        Some("NotOlderThan")
    );
}

#[tokio::test]
async fn objects_leaving_a_label_selector_are_deleted_from_its_watch() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let mut events: Events =
        watcher::watcher(api.clone(), watcher::Config::default().labels("app=web")).boxed();
    assert_eq!(next(&mut events).await, "init");
    assert_eq!(next(&mut events).await, "init-done");
    api.create(
        &PostParams::default(),
        &config_map("other", &[("app", "db")]),
    )
    .await
    .unwrap();
    api.create(&PostParams::default(), &config_map("a", &[("app", "web")]))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");
    let relabel = |app: &str| Patch::Merge(json!({"metadata": {"labels": {"app": app}}}));
    api.patch("a", &PatchParams::default(), &relabel("db"))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "delete a");
    api.patch("a", &PatchParams::default(), &relabel("web"))
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, "apply a ");
}

#[tokio::test]
async fn metadata_watcher_gets_metadata_only() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let metadata: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(fake.client(), "apps");
    let mut events = watcher::watcher(metadata, watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    api.create(&PostParams::default(), &config_map("a", &[("app", "web")]))
        .await
        .unwrap();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match event {
            W::Apply(meta) | W::InitApply(meta) => {
                seen.push(format!("apply {}", meta.metadata.labels.unwrap()["app"]));
            }
            W::Init => seen.push("init".into()),
            W::InitDone => seen.push("init-done".into()),
            W::Delete(_) => seen.push("delete".into()),
        }
    }
    assert_eq!(seen[0], "init");
    assert!(seen.contains(&"apply web".to_string()), "{seen:?}");
    for request in fake.requests_matching(&RequestMatcher::any().resource("configmaps")) {
        if matches!(request.verb, Some(Verb::List | Verb::Watch)) {
            let accept = request.accept.unwrap_or_default();
            assert!(accept.contains("as=PartialObjectMetadata"), "{accept}");
        }
    }

    // On the wire, watch events carry PartialObjectMetadata.
    let request = http::Request::get(
        "/api/v1/namespaces/apps/configmaps?watch=true&resourceVersion=0&timeoutSeconds=1",
    )
    .header(
        "Accept",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    )
    .body(Vec::new())
    .unwrap();
    let mut raw = fake
        .client()
        .request_events::<serde_json::Value>(request)
        .await
        .unwrap()
        .boxed();
    match raw.try_next().await.unwrap() {
        Some(WatchEvent::Added(object)) => {
            assert_eq!(object["kind"], "PartialObjectMetadata");
            assert_eq!(object["metadata"]["name"], "a");
        }
        other => panic!("expected an ADDED event, got {other:?}"),
    }
}

#[tokio::test]
async fn open_watches_are_counted_and_get_bookmarks_on_request() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    assert_eq!(fake.open_watches(), 0);
    let mut stream = api
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    fake.wait_for_watches(1).await;
    assert_eq!(fake.open_watches(), 1);

    api.create(&PostParams::default(), &config_map("b", &[]))
        .await
        .unwrap();
    fake.send_bookmarks();
    assert!(
        matches!(stream.try_next().await.unwrap(), Some(WatchEvent::Added(cm)) if cm.name_any() == "b")
    );
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Bookmark(bookmark)) => assert_eq!(bookmark.metadata.resource_version, "2"),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    drop(stream);
    eventually("the watch to close", || fake.open_watches() == 0).await;
}

#[tokio::test(start_paused = true)]
async fn watches_end_at_their_timeout_with_a_bookmark() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    api.create(&PostParams::default(), &config_map("a", &[]))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().timeout(30), "0")
        .await
        .unwrap()
        .boxed();
    assert!(
        matches!(stream.try_next().await.unwrap(), Some(WatchEvent::Added(cm)) if cm.name_any() == "a")
    );
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Bookmark(bookmark)) => assert_eq!(bookmark.metadata.resource_version, "1"),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none());
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

const FINALIZER: &str = "ddns.dev/cleanup";

async fn reconcile(
    zone: Arc<DNSZone>,
    client: Arc<kube::Client>,
) -> Result<Action, finalizer::Error<kube::Error>> {
    let api: Api<DNSZone> =
        Api::namespaced((*client).clone(), &zone.namespace().unwrap_or_default());
    let status_api = api.clone();
    finalizer(&api, FINALIZER, zone, |event| async move {
        match event {
            Finalizer::Apply(zone) => {
                let status = json!({"status": {"ready": true, "observedGeneration": zone.meta().generation}});
                status_api
                    .patch_status(&zone.name_any(), &PatchParams::default(), &Patch::Merge(status))
                    .await?;
                Ok(Action::requeue(Duration::from_secs(300)))
            }
            Finalizer::Cleanup(_) => Ok(Action::await_change()),
        }
    })
    .await
}

#[tokio::test]
async fn controller_adds_its_finalizer_before_the_first_status_write() {
    let fake = fake_with_zones();
    let client = fake.client();
    let zones: Api<DNSZone> = Api::namespaced(client.clone(), "dns");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = Controller::new(zones.clone(), watcher::Config::default())
        .graceful_shutdown_on(async move {
            let _ = stopped.await;
        })
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(100)),
            Arc::new(client),
        )
        .for_each(|_| async {});
    let running = tokio::spawn(controller);

    zones
        .create(&PostParams::default(), &zone("a", "example.com"))
        .await
        .unwrap();
    let ready = || {
        fake.get::<DNSZone>(Some("dns"), "a")
            .unwrap()
            .and_then(|z| z.status)
            .is_some_and(|s| s.ready && s.observed_generation == Some(1))
    };
    eventually("the zone to become ready", ready).await;
    zones.delete("a", &DeleteParams::default()).await.unwrap();
    eventually("the zone to be gone", || {
        fake.get::<DNSZone>(Some("dns"), "a").unwrap().is_none()
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap();

    let writes: Vec<String> = fake
        .requests_matching(&RequestMatcher::any().resource("dnszones"))
        .iter()
        .filter(|r| r.verb.is_some_and(Verb::is_write))
        .map(|r| {
            format!(
                "{} {}",
                r.summary(),
                r.content_type.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let zone_path = "/apis/ddns.dev/v1alpha1/namespaces/dns/dnszones";
    assert_eq!(
        writes[..3],
        [
            format!("create {zone_path} application/json"),
            format!("patch {zone_path}/a application/json-patch+json"),
            format!("patch {zone_path}/a/status application/merge-patch+json"),
        ]
    );
    let rest: Vec<&String> = writes[3..]
        .iter()
        .filter(|w| !w.contains("/status"))
        .collect();
    assert_eq!(
        rest,
        [
            &format!("delete {zone_path}/a application/json"),
            &format!("patch {zone_path}/a application/json-patch+json"),
        ]
    );
}

#[tokio::test]
async fn recorder_events_are_stored() {
    let fake = fake_with_zones();
    let client = fake.client();
    let zones: Api<DNSZone> = Api::namespaced(client.clone(), "dns");
    let z = zones
        .create(&PostParams::default(), &zone("a", "example.com"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "ddns-operator".into(),
            instance: None,
        },
    );
    let event = Event {
        type_: EventType::Normal,
        reason: "Delivered".into(),
        note: Some("zone delivered to 1 primary".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = z.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    recorder.publish(&event, &reference).await.unwrap();

    let events = fake.list::<K8sEvent>(Some("dns")).unwrap();
    assert_eq!(
        events.len(),
        1,
        "a repeated event is a series on one object"
    );
    let stored = &events[0];
    assert_eq!(stored.reason.as_deref(), Some("Delivered"));
    assert_eq!(
        stored.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("a")
    );
    assert_eq!(stored.series.as_ref().map(|s| s.count), Some(2));
    let writes: Vec<String> = fake
        .requests_matching(&RequestMatcher::any().resource("events"))
        .iter()
        .map(|r| format!("{} {}", r.summary(), r.status))
        .collect();
    let name = stored.name_any();
    assert_eq!(
        writes,
        [
            "create /apis/events.k8s.io/v1/namespaces/dns/events 201".to_string(),
            format!("patch /apis/events.k8s.io/v1/namespaces/dns/events/{name} 200"),
        ]
    );
}

#[tokio::test]
async fn lease_manager_takes_holds_and_hands_over_a_lease() {
    let fake = FakeApi::new();
    let client = fake.client();
    let manager = |identity: &str| {
        LeaseManagerBuilder::new(client.clone(), "ddns-operator")
            .with_namespace("dns")
            .with_identity(identity)
            .with_field_manager(format!("ddns-operator-{identity}"))
            // Short, because b only notices a release once its cached view of
            // a's lease has expired (kube-lease-manager reads SystemTime).
            .with_duration(2)
            .with_grace(1)
            .build()
    };
    let a = manager("a").await.unwrap();
    let b = manager("b").await.unwrap();
    assert!(a.changed().await.unwrap(), "a takes the free lease");

    let lease: Lease = fake.get(Some("dns"), "ddns-operator").unwrap().unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.lease_duration_seconds, Some(2));

    // b cannot take a held lease: its apply conflicts with a's fields.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "dns");
    let grab = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "spec": {"holderIdentity": "b"},
    });
    let conflict = status_of(
        leases
            .patch(
                "ddns-operator",
                &PatchParams::apply("ddns-operator-b"),
                &Patch::Apply(&grab),
            )
            .await,
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"ddns-operator-a\" using coordination.k8s.io/v1: .spec.holderIdentity"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.changed())
            .await
            .is_err(),
        "b must wait while a holds the lease"
    );

    a.release().await.unwrap();
    assert!(b.changed().await.unwrap(), "b takes the released lease");
    let lease: Lease = fake.get(Some("dns"), "ddns-operator").unwrap().unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(2));

    let lease_calls = fake.requests_matching(&RequestMatcher::any().resource("leases"));
    assert_eq!(
        lease_calls
            .iter()
            .filter(|r| r.verb == Some(Verb::Create))
            .count(),
        1
    );
    assert!(
        lease_calls
            .iter()
            .any(|r| r.is_patch_of_type("application/apply-patch+yaml") && r.status == 200)
    );
    assert!(
        lease_calls
            .iter()
            .any(|r| r.is_patch_of_type("application/strategic-merge-patch+json"))
    );
}
