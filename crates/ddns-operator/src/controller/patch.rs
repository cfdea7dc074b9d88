//! Patches the controller sends: finalizers by JSON patch guarded by a
//! `test` of the current list (so a concurrent change fails instead of
//! being overwritten), statuses by merge patch of the status subresource.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::FINALIZER;
use super::error::Error;

/// How many writes of one reconcile are in flight at once: enough to hide
/// the API server's round trip with 1,000 records, few enough not to
/// flood it.
pub(crate) const WRITE_CONCURRENCY: usize = 16;

/// Runs `write` on each of `items` with at most [`WRITE_CONCURRENCY`] in
/// flight, each to its end, and returns the first error. Each write's
/// future is made when it starts: with thousands of records, futures made
/// beforehand would hold tens of MiB at once.
///
/// `items` is a `Vec`, not an iterator: an iterator's closures held across
/// the await would make the reconcile's future fail to be `Send`.
pub(crate) async fn each<T, F, Fut>(items: Vec<T>, write: F) -> Result<(), Error>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut items = items.into_iter();
    let mut running = FuturesUnordered::new();
    let mut first = None;
    loop {
        while running.len() < WRITE_CONCURRENCY {
            let Some(item) = items.next() else { break };
            running.push(write(item));
        }
        match running.next().await {
            Some(Err(error)) => {
                first.get_or_insert(error);
            }
            Some(Ok(())) => {}
            None => break,
        }
    }
    first.map_or(Ok(()), Err)
}

fn json_patch(operations: Value) -> Result<Patch<Value>, Error> {
    serde_json::from_value::<json_patch::Patch>(operations)
        .map(Patch::Json)
        .map_err(|e| Error::Delivery(format!("building a JSON patch: {e}")))
}

/// The patch adding the finalizer to an object with `current` finalizers.
pub(crate) fn add_finalizer_patch(current: &[String]) -> Value {
    if current.is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    }
}

/// The patch removing the finalizer from an object with `current`
/// finalizers.
pub(crate) fn remove_finalizer_patch(current: &[String]) -> Value {
    let kept: Vec<&String> = current.iter().filter(|f| *f != FINALIZER).collect();
    json!([
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": kept},
    ])
}

fn dynamic(client: &Client, resource: &ApiResource, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, resource)
}

/// Adds the finalizer to a record.
pub(crate) async fn add_finalizer(
    client: &Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    current: &[String],
) -> Result<(), Error> {
    let patch = json_patch(add_finalizer_patch(current))?;
    dynamic(client, resource, namespace)
        .patch(name, &PatchParams::default(), &patch)
        .await
        .map(|_| ())
        .map_err(Error::api(format!(
            "add the finalizer to {} {namespace}/{name}",
            resource.kind
        )))
}

/// Removes the finalizer from a record. A record already gone is fine.
pub(crate) async fn remove_finalizer(
    client: &Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    current: &[String],
) -> Result<(), Error> {
    let patch = json_patch(remove_finalizer_patch(current))?;
    match dynamic(client, resource, namespace)
        .patch(name, &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!(
                "remove the finalizer from {} {namespace}/{name}",
                resource.kind
            ),
            source,
        }),
    }
}

/// Merges `status` into the status subresource of an object.
pub(crate) async fn patch_status(
    client: &Client,
    resource: &ApiResource,
    namespace: &str,
    name: &str,
    status: Value,
) -> Result<(), Error> {
    let patch = Patch::Merge(json!({ "status": status }));
    match dynamic(client, resource, namespace)
        .patch_status(name, &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("update the status of {} {namespace}/{name}", resource.kind),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizer_patches_test_the_current_list() {
        assert_eq!(
            add_finalizer_patch(&[]),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["ddns.dev/cleanup"]},
            ])
        );
        let current = vec!["other".to_string(), FINALIZER.to_string()];
        assert_eq!(
            remove_finalizer_patch(&current),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["other", "ddns.dev/cleanup"]},
                {"op": "replace", "path": "/metadata/finalizers", "value": ["other"]},
            ])
        );
        assert!(json_patch(add_finalizer_patch(&current)).is_ok());
    }
}
