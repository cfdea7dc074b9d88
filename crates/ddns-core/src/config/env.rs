//! Reading variables, with `NAME_FILE` and systemd credentials for secrets.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{ConfigError, excerpt};
use crate::secret::Secret;

/// Largest secret file read; anything bigger is certainly not a token.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A snapshot of the environment.
#[derive(Debug, Clone)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self::from_os_pairs(std::env::vars_os())
    }

    /// An environment made of the given pairs (for tests and embedding).
    pub fn from_pairs<K: Into<String>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    fn from_os_pairs(pairs: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        Self {
            // A variable whose name is not UTF-8 cannot be one of ours.
            vars: pairs
                .into_iter()
                .filter_map(|(k, v)| k.into_string().ok().map(|k| (k, v)))
                .collect(),
        }
    }

    /// Whether the variable is set at all (even empty).
    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// The value of a variable; `None` when unset. An empty or non-UTF-8
    /// value is an error: unset the variable to get the default.
    pub fn get(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let Some(raw) = self.vars.get(name) else {
            return Ok(None);
        };
        let value = raw
            .to_str()
            .ok_or_else(|| ConfigError::new(name, "the value is not valid UTF-8"))?;
        if value.trim().is_empty() {
            return Err(ConfigError::new(
                name,
                "is set but empty; give a value or unset it to use the default",
            ));
        }
        Ok(Some(value.to_string()))
    }

    /// The value of a required variable.
    pub fn required(&self, name: &str, what: &str) -> Result<String, ConfigError> {
        self.get(name)?
            .ok_or_else(|| ConfigError::new(name, format!("is required: {what}")))
    }

    /// A value parsed with `FromStr`, or the default.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name)? {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| {
                ConfigError::new(name, format!("'{}' is not valid: {e}", excerpt(&value, 64)))
            }),
        }
    }

    /// A whole number within `range`, or the default.
    pub fn number<T>(
        &self,
        name: &str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(value) = self.get(name)? else {
            return Ok(default);
        };
        let parsed: T = value.trim().parse().map_err(|_| {
            ConfigError::new(
                name,
                format!(
                    "'{}' is not a whole number (expected {}..={})",
                    excerpt(&value, 32),
                    range.start(),
                    range.end()
                ),
            )
        })?;
        if !range.contains(&parsed) {
            return Err(ConfigError::new(
                name,
                format!(
                    "{parsed} is out of range (expected {}..={})",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(parsed)
    }

    /// A boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), or the default.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        let Some(value) = self.get(name)? else {
            return Ok(default);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(
                name,
                format!(
                    "'{}' is not a boolean (expected true or false)",
                    excerpt(&value, 32)
                ),
            )),
        }
    }

    /// A comma-separated list with blanks trimmed; an empty item is an error.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(value) = self.get(name)? else {
            return Ok(None);
        };
        let items: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
        if let Some(position) = items.iter().position(String::is_empty) {
            return Err(ConfigError::new(
                name,
                format!("item {} of the comma-separated list is empty", position + 1),
            ));
        }
        Ok(Some(items))
    }

    /// One of a fixed set of words, or the default.
    pub fn choice<'a>(
        &self,
        name: &str,
        default: &'a str,
        allowed: &[&'a str],
    ) -> Result<&'a str, ConfigError> {
        let Some(value) = self.get(name)? else {
            return Ok(default);
        };
        let wanted = value.trim().to_ascii_lowercase();
        allowed
            .iter()
            .copied()
            .find(|a| *a == wanted)
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!(
                        "'{}' is not one of: {}",
                        excerpt(&value, 32),
                        allowed.join(", ")
                    ),
                )
            })
    }

    /// A secret: from `NAME`, from the file named by `NAME_FILE` (one
    /// trailing newline removed), or from a systemd credential called `NAME`
    /// in `$CREDENTIALS_DIRECTORY` when both are unset.
    pub fn secret(&self, name: &str) -> Result<Option<Secret>, ConfigError> {
        let file_var = format!("{name}_FILE");
        let direct = self.is_set(name);
        let via_file = self.is_set(&file_var);
        if direct && via_file {
            return Err(ConfigError::new(
                name,
                format!("both {name} and {file_var} are set; set only one"),
            ));
        }
        if direct {
            let raw = self.vars.get(name).cloned().unwrap_or_default();
            let value = raw
                .into_string()
                .map_err(|_| ConfigError::new(name, "the value is not valid UTF-8"))?;
            if value.trim().is_empty() {
                return Err(ConfigError::new(name, "is set but empty"));
            }
            return Ok(Some(Secret::new(value)));
        }
        if via_file {
            let Some(path) = self.get(&file_var)? else {
                return Ok(None);
            };
            return read_secret_file(&file_var, Path::new(&path)).map(Some);
        }
        if let Some(dir) = self.vars.get("CREDENTIALS_DIRECTORY") {
            let path = PathBuf::from(dir).join(name);
            if path.is_file() {
                return read_secret_file(name, &path).map(Some);
            }
        }
        Ok(None)
    }

    /// `DDNS_*` variables that are set but not in `known`: most likely
    /// misspellings. Each comes with the closest known name, if any.
    pub fn unknown_ddns_variables(&self, known: &[&str]) -> Vec<(String, Option<String>)> {
        self.vars
            .keys()
            .filter(|k| k.starts_with("DDNS_") && !known.contains(&k.as_str()))
            .map(|k| {
                let suggestion = known
                    .iter()
                    .map(|candidate| (edit_distance(k, candidate), *candidate))
                    .filter(|(d, _)| *d <= 3)
                    .min()
                    .map(|(_, candidate)| candidate.to_string());
                (k.clone(), suggestion)
            })
            .collect()
    }
}

/// Reads a small UTF-8 file named by `variable`: a regular file (not a
/// FIFO, a device or a directory, which could block or never end) of at
/// most `max` bytes. Errors name the variable and the file.
pub fn read_small_file(variable: &str, path: &Path, max: u64) -> Result<String, ConfigError> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {shown}: {e}")))?;
    if !metadata.is_file() {
        return Err(ConfigError::new(
            variable,
            format!("{shown} is not a regular file"),
        ));
    }
    if metadata.len() > max {
        return Err(ConfigError::new(
            variable,
            format!(
                "{shown} is {} bytes; at most {max} are read",
                metadata.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)
        })
        .map_err(|e| ConfigError::new(variable, format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(ConfigError::new(
            variable,
            format!("{shown} grew past {max} bytes while being read"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| ConfigError::new(variable, format!("{shown} is not valid UTF-8")))
}

fn read_secret_file(variable: &str, path: &Path) -> Result<Secret, ConfigError> {
    let shown = path.display();
    let mut text = read_small_file(variable, path, MAX_SECRET_FILE)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.trim().is_empty() {
        return Err(ConfigError::new(variable, format!("{shown} is empty")));
    }
    Ok(Secret::new(text))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn numbers_are_range_checked_with_the_variable_named() {
        let e = env(&[("A", "5"), ("B", "x"), ("C", "99999")]);
        assert_eq!(e.number("A", 1u64, 0..=10), Ok(5));
        assert_eq!(e.number("Z", 7u64, 0..=10), Ok(7));
        let err = e.number("B", 1u64, 0..=10).expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "B: 'x' is not a whole number (expected 0..=10)"
        );
        let err = e.number("C", 1u64, 0..=86400).expect_err("too big");
        assert_eq!(
            err.to_string(),
            "C: 99999 is out of range (expected 0..=86400)"
        );
    }

    #[test]
    fn empty_values_are_errors_not_defaults() {
        let e = env(&[("A", " ")]);
        let err = e.get("A").expect_err("empty");
        assert!(err.to_string().starts_with("A: is set but empty"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_are_errors() {
        use std::os::unix::ffi::OsStringExt;
        let e = Env::from_pairs([("A", OsString::from_vec(vec![0xff, 0xfe]))]);
        assert_eq!(
            e.get("A").expect_err("bad").to_string(),
            "A: the value is not valid UTF-8"
        );
    }

    #[test]
    fn lists_and_flags() {
        let e = env(&[
            ("L", "a, b ,c"),
            ("M", "a,,b"),
            ("F", "Yes"),
            ("G", "maybe"),
        ]);
        assert_eq!(
            e.list("L"),
            Ok(Some(vec!["a".into(), "b".into(), "c".into()]))
        );
        assert!(
            e.list("M")
                .expect_err("empty item")
                .to_string()
                .contains("item 2")
        );
        assert_eq!(e.flag("F", false), Ok(true));
        assert!(
            e.flag("G", false)
                .expect_err("bad")
                .to_string()
                .contains("not a boolean")
        );
    }

    #[test]
    fn secret_from_file_strips_one_newline_and_never_shows_value() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        write!(file, "s3cret-value\n\n").expect("write");
        let path = file.path().to_string_lossy().to_string();
        let e = env(&[("TOKEN_FILE", &path)]);
        let secret = e.secret("TOKEN").expect("read").expect("present");
        assert_eq!(secret.expose(), "s3cret-value\n");

        let both = env(&[("TOKEN", "x"), ("TOKEN_FILE", &path)]);
        let err = both.secret("TOKEN").expect_err("both set");
        assert_eq!(
            err.to_string(),
            "TOKEN: both TOKEN and TOKEN_FILE are set; set only one"
        );

        let missing = env(&[("TOKEN_FILE", "/nonexistent/ddns-token")]);
        let err = missing.secret("TOKEN").expect_err("missing");
        assert!(
            err.to_string()
                .starts_with("TOKEN_FILE: cannot read /nonexistent/ddns-token")
        );
    }

    #[test]
    fn secret_from_systemd_credentials_directory() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("TOKEN"), "from-credential\n").expect("write");
        let e = env(&[("CREDENTIALS_DIRECTORY", &dir.path().to_string_lossy())]);
        let secret = e.secret("TOKEN").expect("read").expect("present");
        assert_eq!(secret.expose(), "from-credential");
    }

    #[test]
    fn misspelt_variables_are_reported_with_a_suggestion() {
        let e = env(&[
            ("DDNS_RECORD", "a.example.com"),
            ("DDNS_RECORDS", "x"),
            ("OTHER", "1"),
        ]);
        assert_eq!(
            e.unknown_ddns_variables(&["DDNS_RECORDS", "DDNS_TTL"]),
            vec![("DDNS_RECORD".to_string(), Some("DDNS_RECORDS".to_string()))]
        );
    }
}
