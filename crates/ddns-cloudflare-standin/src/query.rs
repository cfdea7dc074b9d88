//! Strict query strings and pagination.

use std::collections::BTreeMap;

use crate::envelope::{ApiError, ResultInfo};

/// What an endpoint accepts in its query string.
pub(crate) struct QuerySpec {
    /// Documented and implemented.
    pub(crate) known: &'static [&'static str],
    /// Documented by Cloudflare but not implemented here: refused with a
    /// message saying so, rather than silently ignored.
    pub(crate) unimplemented: &'static [&'static str],
}

/// The parameters of a request, each at most once.
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `page` (≥ 1, default 1) and `per_page` (in `min..=max`, default
    /// `default`).
    pub(crate) fn paging(
        &self,
        min: usize,
        max: usize,
        default: usize,
    ) -> Result<Paging, ApiError> {
        let page = match self.get("page") {
            None => 1,
            Some(raw) => match raw.parse::<usize>() {
                Ok(page) if page >= 1 => page,
                _ => {
                    return Err(ApiError::invalid_query(format!(
                        "Invalid page value `{raw}`: must be an integer of at least 1"
                    )));
                }
            },
        };
        let per_page = match self.get("per_page") {
            None => default,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_query(format!(
                        "Invalid per_page value `{raw}`: must be an integer from {min} to {max}"
                    )));
                }
            },
        };
        Ok(Paging { page, per_page })
    }

    /// `direction`: `asc` (default) or `desc`; true for descending.
    pub(crate) fn descending(&self) -> Result<bool, ApiError> {
        match self.get("direction") {
            None | Some("asc") => Ok(false),
            Some("desc") => Ok(true),
            Some(other) => Err(ApiError::invalid_query(format!(
                "Invalid direction value `{other}`: must be asc or desc"
            ))),
        }
    }

    /// `match`: `all` (default) or `any`; true for any.
    pub(crate) fn match_any(&self) -> Result<bool, ApiError> {
        match self.get("match") {
            None | Some("all") => Ok(false),
            Some("any") => Ok(true),
            Some(other) => Err(ApiError::invalid_query(format!(
                "Invalid match value `{other}`: must be all or any"
            ))),
        }
    }
}

/// Parses a query string, refusing unknown, repeated and empty parameters.
pub(crate) fn parse(raw: Option<&str>, spec: &QuerySpec) -> Result<Params, ApiError> {
    let mut params = BTreeMap::new();
    let Some(raw) = raw else {
        return Ok(Params(params));
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let name = name.into_owned();
        if spec.unimplemented.contains(&name.as_str()) {
            return Err(ApiError::invalid_query(format!(
                "Query parameter `{name}` is documented by Cloudflare but not implemented by the stand-in"
            )));
        }
        if !spec.known.contains(&name.as_str()) {
            return Err(ApiError::invalid_query(format!(
                "Unknown query parameter `{name}`"
            )));
        }
        if value.is_empty() {
            return Err(ApiError::invalid_query(format!(
                "Query parameter `{name}` has an empty value"
            )));
        }
        if params.insert(name.clone(), value.into_owned()).is_some() {
            return Err(ApiError::invalid_query(format!(
                "Query parameter `{name}` is given more than once"
            )));
        }
    }
    Ok(Params(params))
}

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub(crate) page: usize,
    pub(crate) per_page: usize,
}

impl Paging {
    /// The page's items and its `result_info`.
    pub(crate) fn cut<T>(self, items: Vec<T>) -> (Vec<T>, ResultInfo) {
        let total_count = items.len();
        let total_pages = total_count.div_ceil(self.per_page);
        let start = (self.page - 1).saturating_mul(self.per_page);
        let page_items: Vec<T> = items.into_iter().skip(start).take(self.per_page).collect();
        let info = ResultInfo {
            page: self.page,
            per_page: self.per_page,
            count: page_items.len(),
            total_count,
            total_pages,
        };
        (page_items, info)
    }
}

/// How a text filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextOp {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    pub(crate) fn test(self, value: &str, wanted: &str) -> bool {
        match self {
            TextOp::Exact => value == wanted,
            TextOp::Contains => value.contains(wanted),
            TextOp::StartsWith => value.starts_with(wanted),
            TextOp::EndsWith => value.ends_with(wanted),
        }
    }

    /// The operator of a parameter such as `name.contains`, for a field.
    pub(crate) fn of(param: &str, field: &str) -> Option<TextOp> {
        let suffix = param.strip_prefix(field)?;
        match suffix {
            "" | ".exact" => Some(TextOp::Exact),
            ".contains" => Some(TextOp::Contains),
            ".startswith" => Some(TextOp::StartsWith),
            ".endswith" => Some(TextOp::EndsWith),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: QuerySpec = QuerySpec {
        known: &["page", "per_page", "name"],
        unimplemented: &["search"],
    };

    #[test]
    fn refuses_unknown_repeated_empty_and_unimplemented() {
        assert!(parse(Some("name=a&page=2"), &SPEC).is_ok());
        assert_eq!(
            parse(Some("nam=a"), &SPEC).map(|_| ()).unwrap_err().code(),
            1004
        );
        assert!(parse(Some("name=a&name=b"), &SPEC).is_err());
        assert!(parse(Some("name="), &SPEC).is_err());
        assert!(parse(Some("search=x"), &SPEC).is_err());
    }

    #[test]
    fn paging_cuts_pages_and_counts() {
        let params = parse(Some("page=3&per_page=100"), &SPEC).unwrap();
        let paging = params.paging(5, 50_000, 100).unwrap();
        let (items, info) = paging.cut((0..250).collect::<Vec<_>>());
        assert_eq!(items.len(), 50);
        assert_eq!(items[0], 200);
        assert_eq!(
            info,
            ResultInfo {
                page: 3,
                per_page: 100,
                count: 50,
                total_count: 250,
                total_pages: 3
            }
        );
        assert!(params.paging(5, 50, 20).is_err());
    }
}
