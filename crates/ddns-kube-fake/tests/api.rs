//! The fake API server driven through a real `kube::Client`: CRUD,
//! selectors, patches, the status subresource, deletion with finalizers,
//! the request log and injected failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use ddns_kube_fake::{ChangeType, FakeApi, RequestMatcher, ResourceKind, Verb};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event as Finalizer, finalizer};
use serde_json::json;
use support::{DNSZone, DNSZoneStatus, fake_with_zones, status_of, zone};

fn config_map(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    if !labels.is_empty() {
        cm.metadata.labels = Some(labels);
    }
    cm.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    );
    cm
}

#[tokio::test]
async fn config_map_create_get_replace_delete() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    let pp = PostParams::default();

    let created = api
        .create(&pp, &config_map("a", &[], &[("k", "v")]))
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(created.metadata.resource_version.as_deref(), Some("1"));
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.metadata.uid.as_deref(),
        Some("00000000-0000-4000-8000-000000000001")
    );
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(api.get("a").await.unwrap(), created);

    let again = status_of(api.create(&pp, &config_map("a", &[], &[])).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(again.message, "configmaps \"a\" already exists");

    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "v2".to_string())].into());
    let replaced = api.replace("a", &pp, &changed).await.unwrap();
    assert_eq!(replaced.metadata.resource_version.as_deref(), Some("2"));
    assert_eq!(replaced.metadata.generation, Some(2));
    assert_eq!(replaced.metadata.uid, created.metadata.uid);
    assert_eq!(
        replaced.metadata.creation_timestamp,
        created.metadata.creation_timestamp
    );

    // `changed` still carries resourceVersion 1: optimistic concurrency.
    let stale = status_of(api.replace("a", &pp, &changed).await);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
    let status = deleted
        .right()
        .expect("immediate deletion answers a Status");
    assert_eq!(status.details.map(|d| d.name), Some("a".into()));

    let missing = status_of(api.get("a").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "configmaps \"a\" not found");
    assert_eq!(api.get_opt("a").await.unwrap(), None);
    assert_eq!(
        fake.changes()
            .iter()
            .map(|c| c.change_type)
            .collect::<Vec<_>>(),
        [ChangeType::Added, ChangeType::Modified, ChangeType::Deleted]
    );
}

#[tokio::test]
async fn generate_name_and_delete_preconditions() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
    let mut cm = ConfigMap::default();
    cm.metadata.generate_name = Some("cache-".into());
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let name = created.metadata.name.clone().unwrap();
    assert!(
        name.starts_with("cache-") && name.len() == "cache-".len() + 5,
        "{name}"
    );

    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some("999".into()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let refused = status_of(api.delete(&name, &dp).await);
    assert_eq!(refused.code, 409);
    assert!(
        refused
            .message
            .contains("Precondition failed: ResourceVersion in precondition: 999"),
        "{}",
        refused.message
    );
    assert!(
        fake.get::<ConfigMap>(Some("default"), &name)
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn secret_string_data_is_stored_as_data() {
    let fake = FakeApi::new();
    let api: Api<Secret> = Api::namespaced(fake.client(), "dns");
    let mut secret = Secret::default();
    secret.metadata.name = Some("tsig".into());
    secret.string_data = Some([("secret".to_string(), "s3cret".to_string())].into());
    let created = api.create(&PostParams::default(), &secret).await.unwrap();
    assert_eq!(created.string_data, None);
    assert_eq!(
        created.data.unwrap()["secret"],
        ByteString(b"s3cret".to_vec())
    );
    let raw = fake.get_json("v1", "secrets", Some("dns"), "tsig").unwrap();
    assert_eq!(raw["data"]["secret"], "czNjcmV0");
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let fake = FakeApi::new();
    let client = fake.client();
    for (ns, name, labels) in [
        ("a", "primary-1", vec![("role", "primary"), ("env", "prod")]),
        (
            "a",
            "secondary-1",
            vec![("role", "secondary"), ("env", "prod")],
        ),
        (
            "b",
            "primary-2",
            vec![("role", "primary"), ("env", "staging")],
        ),
        ("b", "plain", vec![]),
    ] {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        api.create(&PostParams::default(), &config_map(name, &labels, &[]))
            .await
            .unwrap();
    }
    let all: Api<ConfigMap> = Api::all(client.clone());
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect()
    };
    let list = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.metadata.resource_version.as_deref(), Some("4"));
    assert_eq!(
        names(list),
        ["primary-1", "secondary-1", "plain", "primary-2"]
    );

    for (selector, expected) in [
        ("role=primary", vec!["primary-1", "primary-2"]),
        ("role!=primary", vec!["secondary-1", "plain"]),
        (
            "env in (prod, staging),role notin (secondary)",
            vec!["primary-1", "primary-2"],
        ),
        ("role", vec!["primary-1", "secondary-1", "primary-2"]),
        ("!role", vec!["plain"]),
    ] {
        let list = all
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(names(list), expected, "labelSelector {selector}");
    }
    let in_a: Api<ConfigMap> = Api::namespaced(client.clone(), "a");
    assert_eq!(
        names(
            in_a.list(&ListParams::default().labels("role=primary"))
                .await
                .unwrap()
        ),
        ["primary-1"]
    );
    let by_field = all
        .list(&ListParams::default().fields("metadata.namespace=b,metadata.name!=plain"))
        .await
        .unwrap();
    assert_eq!(names(by_field), ["primary-2"]);

    let bad = status_of(
        all.list(&ListParams::default().labels("role in primary"))
            .await,
    );
    assert_eq!(bad.code, 400);
    assert!(
        bad.message.contains("unable to parse labelSelector"),
        "{}",
        bad.message
    );
}

#[tokio::test]
async fn merge_and_json_patches() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::default_namespaced(fake.client());
    let pp = PatchParams::default();
    api.create(
        &PostParams::default(),
        &config_map("a", &[("app", "web")], &[("x", "1"), ("y", "2")]),
    )
    .await
    .unwrap();

    let merged = api
        .patch(
            "a",
            &pp,
            &Patch::Merge(
                json!({"data": {"x": null, "z": "3"}, "metadata": {"labels": {"tier": "1"}}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        merged.data.unwrap(),
        [("y".to_string(), "2".to_string()), ("z".into(), "3".into())].into()
    );
    assert_eq!(merged.metadata.labels.unwrap().len(), 2);

    let strategic = api
        .patch("a", &pp, &Patch::Strategic(json!({"data": {"w": "4"}})))
        .await
        .unwrap();
    assert_eq!(strategic.data.unwrap()["w"], "4");

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/y", "value": "2"},
        {"op": "replace", "path": "/data/y", "value": "20"},
    ]))
    .unwrap();
    let patched = api.patch("a", &pp, &Patch::Json::<()>(ops)).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["y"], "20");
    let rv = patched.metadata.resource_version.clone();

    // A failing `test` changes nothing and answers like the real server.
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/data/y", "value": "200"},
        {"op": "test", "path": "/data/y", "value": "2"},
    ]))
    .unwrap();
    let failed = status_of(api.patch("a", &pp, &Patch::Json::<()>(ops)).await);
    assert_eq!((failed.code, failed.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        failed.message,
        "the server rejected our request due to an error in our request"
    );
    let cause = &failed.details.unwrap().causes[0].message;
    assert!(
        cause.contains("value did not match") && cause.contains("/data/y"),
        "{cause}"
    );
    let now = api.get("a").await.unwrap();
    assert_eq!(now.data.unwrap()["y"], "20");
    assert_eq!(now.metadata.resource_version, rv);

    // A resourceVersion in a patch is a precondition.
    let stale = status_of(
        api.patch(
            "a",
            &pp,
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"q": "1"}})),
        )
        .await,
    );
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));

    // Server-side apply is refused for kinds that did not opt in.
    let apply = status_of(
        api.patch(
            "a",
            &PatchParams::apply("test"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        )
        .await,
    );
    assert_eq!(apply.code, 415);
    assert!(
        apply
            .message
            .contains("does not implement server-side apply"),
        "{}",
        apply.message
    );
}

#[tokio::test]
async fn unregistered_resources_are_not_served() {
    let fake = FakeApi::new();
    let zones: Api<DNSZone> = Api::default_namespaced(fake.client());
    let missing = status_of(zones.list(&ListParams::default()).await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        missing.message,
        "the server could not find the requested resource"
    );

    fake.register(ResourceKind::of::<DNSZone>());
    assert!(
        zones
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let no_status = status_of(zones.get_status("x").await);
    assert_eq!(
        no_status.message,
        "the server could not find the requested resource"
    );
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let fake = fake_with_zones();
    let api: Api<DNSZone> = Api::namespaced(fake.client(), "dns");
    let pp = PostParams::default();

    let mut z = zone("example", "example.com");
    z.status = Some(DNSZoneStatus {
        observed_generation: Some(7),
        ready: true,
    });
    let created = api.create(&pp, &z).await.unwrap();
    assert_eq!(created.status, None, "status is not set through create");
    assert_eq!(created.metadata.generation, Some(1));

    // Status through /status: only .status changes, generation stays.
    let patch = json!({"spec": {"zoneName": "ignored.example"}, "status": {"ready": true, "observedGeneration": 1}});
    let patched = api
        .patch_status("example", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(patched.spec.zone_name, "example.com");
    assert_eq!(
        patched.status,
        Some(DNSZoneStatus {
            observed_generation: Some(1),
            ready: true
        })
    );
    assert_eq!(patched.metadata.generation, Some(1));
    assert_eq!(api.get_status("example").await.unwrap(), patched);

    // Status through the main resource is ignored: a no-op that stores nothing.
    let mut via_main = patched.clone();
    via_main.status = Some(DNSZoneStatus::default());
    let unchanged = api.replace("example", &pp, &via_main).await.unwrap();
    assert_eq!(unchanged, patched);
    assert_eq!(fake.changes().len(), 2);

    // A spec change bumps generation; a label change does not.
    let spec = api
        .patch(
            "example",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"ttl": 60}})),
        )
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));
    assert_eq!(spec.status, patched.status);
    let labels = api
        .patch(
            "example",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labels.metadata.generation, Some(2));
    assert_ne!(
        labels.metadata.resource_version,
        spec.metadata.resource_version
    );

    // replace_status takes only the status of the body.
    let mut body = labels.clone();
    body.spec.zone_name = "other.example".into();
    body.status = Some(DNSZoneStatus {
        observed_generation: Some(2),
        ready: false,
    });
    let replaced = api.replace_status("example", &pp, &body).await.unwrap();
    assert_eq!(replaced.spec.zone_name, "example.com");
    assert_eq!(replaced.status.unwrap().observed_generation, Some(2));
    assert_eq!(replaced.metadata.generation, Some(2));

    // Config maps have no status subresource.
    let maps: Api<ConfigMap> = Api::namespaced(fake.client(), "dns");
    assert_eq!(status_of(maps.get_status("x").await).code, 404);
}

#[derive(Debug, thiserror::Error)]
#[error("cleanup failed")]
struct CleanupFailed;

#[tokio::test]
async fn deletion_waits_for_finalizers_through_kube_finalizer() {
    let fake = fake_with_zones();
    let api: Api<DNSZone> = Api::namespaced(fake.client(), "dns");
    api.create(&PostParams::default(), &zone("z", "example.com"))
        .await
        .unwrap();
    const NAME: &str = "ddns.dev/cleanup";

    // First pass: the finalizer is added (JSON patch with `test` == null).
    let obj = Arc::new(api.get("z").await.unwrap());
    let action = finalizer(&api, NAME, obj, |_| async {
        Ok::<_, CleanupFailed>(Action::requeue(std::time::Duration::from_secs(1)))
    })
    .await
    .unwrap();
    assert_eq!(action, Action::await_change());
    let with_finalizer = api.get("z").await.unwrap();
    assert_eq!(
        with_finalizer.metadata.finalizers,
        Some(vec![NAME.to_string()])
    );
    assert_eq!(with_finalizer.metadata.generation, Some(1));

    // A stale copy (no finalizers) cannot add it twice: its `test` fails.
    let stale = Arc::new(zone_with_meta(&with_finalizer, None));
    let again = finalizer(&api, "other/finalizer", stale, |_| async {
        Ok::<_, CleanupFailed>(Action::await_change())
    })
    .await;
    match again {
        Err(finalizer::Error::AddFinalizer(kube::Error::Api(status))) => {
            assert_eq!(status.code, 422)
        }
        other => panic!("expected a refused finalizer patch, got {other:?}"),
    }

    // Delete: the object stays, marked, with generation bumped.
    let answer = api.delete("z", &DeleteParams::default()).await.unwrap();
    let marked = answer
        .left()
        .expect("a pending deletion answers the object");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.generation, Some(2));
    assert!(fake.get::<DNSZone>(Some("dns"), "z").unwrap().is_some());

    // No new finalizers while deleting.
    let refused = status_of(
        api.patch(
            "z",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": [NAME, "late/one"]}})),
        )
        .await,
    );
    assert_eq!(refused.code, 422);
    assert!(
        refused
            .message
            .contains("no new finalizers can be added if the object is being deleted"),
        "{}",
        refused.message
    );

    // A failing cleanup keeps the finalizer; a good one removes it and the object goes.
    let failing = finalizer(&api, NAME, Arc::new(marked.clone()), |_| async {
        Err::<Action, _>(CleanupFailed)
    })
    .await;
    assert!(
        matches!(failing, Err(finalizer::Error::CleanupFailed(_))),
        "{failing:?}"
    );
    assert!(fake.get::<DNSZone>(Some("dns"), "z").unwrap().is_some());
    let mut cleaned = false;
    finalizer(&api, NAME, Arc::new(marked), |event| {
        cleaned = matches!(event, Finalizer::Cleanup(_));
        async { Ok::<_, CleanupFailed>(Action::await_change()) }
    })
    .await
    .unwrap();
    assert!(cleaned);
    assert!(fake.get::<DNSZone>(Some("dns"), "z").unwrap().is_none());
    let last = fake.changes().pop().unwrap();
    assert_eq!(last.change_type, ChangeType::Deleted);
    assert!(last.object["metadata"]["finalizers"].is_null());

    let patches: Vec<_> = fake
        .requests_matching(&RequestMatcher::verb(Verb::Patch).resource("dnszones"))
        .into_iter()
        .filter(|r| r.is_patch_of_type("application/json-patch+json"))
        .map(|r| (r.body.unwrap(), r.status))
        .collect();
    assert_eq!(
        patches,
        [
            (
                json!([{"op": "test", "path": "/metadata/finalizers", "value": null}, {"op": "add", "path": "/metadata/finalizers", "value": [NAME]}]),
                200
            ),
            (
                json!([{"op": "test", "path": "/metadata/finalizers", "value": null}, {"op": "add", "path": "/metadata/finalizers", "value": ["other/finalizer"]}]),
                422
            ),
            (
                json!([{"op": "test", "path": "/metadata/finalizers/0", "value": NAME}, {"op": "remove", "path": "/metadata/finalizers/0"}]),
                200
            ),
        ]
    );
}

fn zone_with_meta(from: &DNSZone, finalizers: Option<Vec<String>>) -> DNSZone {
    let mut z = from.clone();
    z.metadata.finalizers = finalizers;
    z
}

#[tokio::test]
async fn request_log_and_injected_failures() {
    let fake = FakeApi::new();
    let api: Api<ConfigMap> = Api::namespaced(fake.client(), "apps");
    fake.fail_next(
        RequestMatcher::verb(Verb::Create).resource("configmaps"),
        503,
    );

    let refused = status_of(
        api.create(&PostParams::default(), &config_map("a", &[], &[]))
            .await,
    );
    assert_eq!(
        (refused.code, refused.reason.as_str()),
        (503, "ServiceUnavailable")
    );
    assert!(
        fake.list::<ConfigMap>(None).unwrap().is_empty(),
        "an injected failure stores nothing"
    );

    api.create(&PostParams::default(), &config_map("a", &[], &[]))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    api.list(&ListParams::default().labels("app=x"))
        .await
        .unwrap();

    let log = fake.requests();
    assert_eq!(
        log.iter()
            .map(|r| (r.summary(), r.status))
            .collect::<Vec<_>>(),
        [
            ("create /api/v1/namespaces/apps/configmaps".to_string(), 503),
            ("create /api/v1/namespaces/apps/configmaps".to_string(), 201),
            (
                "patch /api/v1/namespaces/apps/configmaps/a".to_string(),
                200
            ),
            ("list /api/v1/namespaces/apps/configmaps".to_string(), 200),
        ]
    );
    assert_eq!(
        log[2].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(log[2].body, Some(json!({"data": {"k": "v"}})));
    assert_eq!(log[3].query_param("labelSelector"), Some("app=x"));
    assert_eq!(
        fake.count(&RequestMatcher::any().resource("configmaps").name("a")),
        1
    );
    assert_eq!(fake.count(&RequestMatcher::verb(Verb::Create)), 2);

    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn insert_hook_keeps_status_and_feeds_the_api() {
    let fake = fake_with_zones();
    let mut z = zone("seeded", "seed.example");
    z.metadata.namespace = Some("dns".into());
    z.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
    z.status = Some(DNSZoneStatus {
        observed_generation: Some(1),
        ready: true,
    });
    let stored = fake.insert(&z).unwrap();
    assert_eq!(stored["metadata"]["resourceVersion"], "1");

    let api: Api<DNSZone> = Api::namespaced(fake.client(), "dns");
    let got = api.get("seeded").await.unwrap();
    assert_eq!(got.status, z.status);
    assert_eq!(
        api.list(&ListParams::default().labels("team=a"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    let unknown = fake.insert(
        &json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}}),
    );
    assert_eq!(
        unknown.unwrap_err().to_string(),
        "no resource kind Thing in example.com/v1 is registered with the fake API server"
    );
    assert!(
        fake.remove("ddns.dev/v1alpha1", "dnszones", Some("dns"), "seeded")
            .is_some()
    );
    assert_eq!(status_of(api.get("seeded").await).code, 404);
}

#[tokio::test]
async fn metadata_only_reads_answer_partial_object_metadata() {
    let fake = FakeApi::new();
    let api: Api<Secret> = Api::namespaced(fake.client(), "dns");
    let mut secret = Secret::default();
    secret.metadata.name = Some("tsig".into());
    secret.metadata.labels = Some([("app".to_string(), "bind".to_string())].into());
    secret.string_data = Some([("secret".to_string(), "s3cret".to_string())].into());
    api.create(&PostParams::default(), &secret).await.unwrap();

    let meta = api.get_metadata("tsig").await.unwrap();
    assert_eq!(meta.metadata.labels.unwrap()["app"], "bind");
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("tsig"));

    // What went over the wire carries no secret data.
    let raw = kube::Client::new(fake.service(), "dns")
        .request_text(
            http::Request::get("/api/v1/namespaces/dns/secrets/tsig")
                .header(
                    "Accept",
                    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
                )
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let raw: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(raw["kind"], "PartialObjectMetadata");
    assert!(raw.get("data").is_none(), "{raw}");
}
