//! Request paths: `/api/v1/...` and `/apis/{group}/{version}/...`.

use crate::resource::Registry;

/// What a request path names, before it is checked against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) api_version: String,
    pub(crate) plural: String,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
}

/// Splits a path; `None` when it is no resource path at all.
///
/// `/api/v1/namespaces/{ns}/{plural}/...` is read as a namespaced path only
/// when `{plural}` is a registered namespaced resource, so that
/// `/api/v1/namespaces/{name}/status` still names the namespace's status.
pub(crate) fn parse(path: &str, registry: &Registry) -> Option<Target> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let (api_version, rest) = match segments.as_slice() {
        [api, version, rest @ ..] if api == "api" => (version.clone(), rest),
        [apis, group, version, rest @ ..] if apis == "apis" => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let namespaced_plural = |plural: &str| {
        registry
            .by_plural(&api_version, plural)
            .is_some_and(|k| k.is_namespaced())
    };
    let (namespace, tail) = match rest {
        [ns_word, ns, tail @ ..]
            if ns_word == "namespaces" && tail.first().is_some_and(|p| namespaced_plural(p)) =>
        {
            (Some(ns.clone()), tail)
        }
        _ => (None, rest),
    };
    match tail {
        [plural] => Some(Target {
            api_version,
            plural: plural.clone(),
            namespace,
            name: None,
            subresource: None,
        }),
        [plural, name] => Some(Target {
            api_version,
            plural: plural.clone(),
            namespace,
            name: Some(name.clone()),
            subresource: None,
        }),
        [plural, name, sub] => Some(Target {
            api_version,
            plural: plural.clone(),
            namespace,
            name: Some(name.clone()),
            subresource: Some(sub.clone()),
        }),
        _ => None,
    }
}

fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    // form_urlencoded also turns '+' into ' ', which a path must keep.
    let protected = segment.replace('+', "%2B");
    form_urlencoded::parse(format!("x={protected}").as_bytes())
        .next()
        .map_or_else(|| segment.to_owned(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::ResourceKind;

    fn registry() -> Registry {
        let mut r = Registry::with_builtins();
        r.register(
            ResourceKind::namespaced("ddns.dev/v1alpha1", "DNSZone", "dnszones").with_status(),
        );
        r
    }

    fn t(
        api: &str,
        plural: &str,
        ns: Option<&str>,
        name: Option<&str>,
        sub: Option<&str>,
    ) -> Target {
        Target {
            api_version: api.into(),
            plural: plural.into(),
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        }
    }

    #[test]
    fn core_and_group_paths() {
        let r = registry();
        assert_eq!(
            parse("/api/v1/namespaces/default/configmaps", &r),
            Some(t("v1", "configmaps", Some("default"), None, None))
        );
        assert_eq!(
            parse("/api/v1/namespaces/default/configmaps/a", &r),
            Some(t("v1", "configmaps", Some("default"), Some("a"), None))
        );
        assert_eq!(
            parse("/api/v1/configmaps", &r),
            Some(t("v1", "configmaps", None, None, None))
        );
        assert_eq!(
            parse(
                "/apis/ddns.dev/v1alpha1/namespaces/ns1/dnszones/z/status",
                &r
            ),
            Some(t(
                "ddns.dev/v1alpha1",
                "dnszones",
                Some("ns1"),
                Some("z"),
                Some("status")
            ))
        );
        assert_eq!(
            parse("/apis/ddns.dev/v1alpha1/dnszones", &r),
            Some(t("ddns.dev/v1alpha1", "dnszones", None, None, None))
        );
    }

    #[test]
    fn namespace_objects_are_cluster_scoped() {
        let r = registry();
        assert_eq!(
            parse("/api/v1/namespaces/prod", &r),
            Some(t("v1", "namespaces", None, Some("prod"), None))
        );
        assert_eq!(
            parse("/api/v1/namespaces/prod/status", &r),
            Some(t("v1", "namespaces", None, Some("prod"), Some("status")))
        );
    }

    #[test]
    fn not_resource_paths() {
        let r = registry();
        assert_eq!(parse("/version", &r), None);
        assert_eq!(parse("/apis/ddns.dev/v1alpha1", &r), None);
        assert_eq!(parse("/api/v1/namespaces/a/configmaps/b/c/d", &r), None);
    }
}
