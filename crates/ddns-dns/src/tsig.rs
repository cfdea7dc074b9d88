//! TSIG keys: parsing, signing requests and checking answers.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use ddns_core::Secret;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm as HickoryAlgorithm, TsigError};
use hickory_proto::rr::{Name, TSigner};

use crate::error::{Error, Result};

/// How far apart our clock and the server's may be (RFC 8945 recommends 300 s).
const FUDGE_SECS: u16 = 300;

/// The HMAC algorithms this build can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsigAlgorithm {
    /// hmac-sha256 (the default).
    HmacSha256,
    /// hmac-sha384.
    HmacSha384,
    /// hmac-sha512.
    HmacSha512,
}

impl TsigAlgorithm {
    /// The name BIND uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn hickory(self) -> HickoryAlgorithm {
        match self {
            TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
        }
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TsigAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().trim_end_matches('.').to_ascii_lowercase();
        match lower.as_str() {
            "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
            "hmac-sha1" | "hmac-sha224" | "hmac-md5" | "hmac-md5.sig-alg.reg.int" => Err(format!(
                "{lower} is not supported by this build's TSIG library; generate a new key with `tsig-keygen -a hmac-sha256 NAME`"
            )),
            _ => Err(format!(
                "'{}' is not a TSIG algorithm (expected hmac-sha256, hmac-sha384 or hmac-sha512)",
                s.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// A TSIG key. It holds a secret, so it prints only its name and algorithm.
#[derive(Clone)]
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    signer: TSigner,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name.to_string())
            .field("algorithm", &self.algorithm)
            .field("secret", &ddns_core::REDACTED)
            .finish()
    }
}

impl TsigKey {
    /// A key from its name, algorithm and base64 secret. The error says
    /// what is wrong without showing the secret.
    pub fn new(name: &str, algorithm: TsigAlgorithm, secret: &Secret) -> Result<Self, String> {
        let name = parse_key_name(name)?;
        let bytes = data_encoding::BASE64
            .decode(secret.expose().trim().as_bytes())
            .map_err(|_| "the secret is not valid base64 (tsig-keygen writes it as the `secret` line of the key file)".to_string())?;
        if bytes.len() < 16 {
            return Err(format!(
                "the secret decodes to {} bytes; a TSIG key has at least 16",
                bytes.len()
            ));
        }
        let signer = TSigner::new(bytes, algorithm.hickory(), name.clone(), FUDGE_SECS)
            .map_err(|e| format!("cannot use the key: {e}"))?;
        Ok(Self {
            name,
            algorithm,
            signer,
        })
    }

    /// A key from a BIND key file as `tsig-keygen` writes it:
    /// `key "name" { algorithm hmac-sha256; secret "base64"; };`
    pub fn from_key_file(text: &str) -> Result<Self, String> {
        let parsed = parse_key_file(text)?;
        let algorithm = parsed.algorithm.parse()?;
        Self::new(&parsed.name, algorithm, &Secret::new(parsed.secret))
    }

    /// The key's name (without the trailing dot).
    pub fn name(&self) -> String {
        self.name.to_string().trim_end_matches('.').to_string()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> TsigAlgorithm {
        self.algorithm
    }

    /// Signs `message`; returns its bytes and the request MAC needed to
    /// check the answer.
    pub fn sign(&self, message: &mut Message) -> Result<(Vec<u8>, Vec<u8>)> {
        let (record, _) =
            self.signer
                .sign_message(message, unix_now())
                .map_err(|e| Error::Encode {
                    reason: format!("cannot sign with TSIG: {e}"),
                })?;
        let mac = record.data.mac.clone();
        message.set_signature(record);
        let bytes = message.to_vec().map_err(|e| Error::Encode {
            reason: e.to_string(),
        })?;
        Ok((bytes, mac))
    }

    /// Checks the TSIG of an answer (`bytes`, parsed as `response`) to a
    /// request signed with this key, whose MAC was `request_mac`. The TSIG error
    /// field is read before anything else: BIND answers BADSIG and BADKEY
    /// unsigned, and a signed BADTIME answer would otherwise "verify".
    pub fn check(
        &self,
        server: SocketAddr,
        bytes: &[u8],
        response: &Message,
        request_mac: &[u8],
    ) -> Result<()> {
        let Some(record) = response.signature() else {
            return Err(Error::TsigInvalid {
                server,
                reason: "the answer is not signed although the request was".into(),
            });
        };
        let tsig = &record.data;
        let code = tsig.error.map(u16::from).unwrap_or(0);
        if code != 0 {
            let name = match TsigError::from(code) {
                TsigError::BadSig => "BADSIG",
                TsigError::BadKey => "BADKEY",
                TsigError::BadTime => "BADTIME",
                TsigError::BadTrunc => "BADTRUNC",
                TsigError::Unknown(_) => "an unknown TSIG error",
            };
            // RFC 8945 §5.2.3: a BADTIME answer carries the server's clock in "other data".
            let server_time = (tsig.other.len() == 6)
                .then(|| {
                    tsig.other
                        .iter()
                        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
                })
                .or((name != "BADTIME").then_some(tsig.time));
            let clock_offset = server_time.map(|t| t as i64 - unix_now() as i64);
            let detail = match name {
                "BADSIG" => "; the secret does not match the server's key".to_string(),
                "BADKEY" => {
                    "; the server does not know this key name with this algorithm".to_string()
                }
                "BADTIME" => match clock_offset {
                    Some(offset) => format!(
                        "; the server's clock differs from ours by {offset} s, fix the time on this machine"
                    ),
                    None => "; the clocks differ by more than the allowed 300 s".to_string(),
                },
                _ => String::new(),
            };
            return Err(Error::TsigRejected {
                key: self.name(),
                code: name,
                clock_offset: if name == "BADTIME" {
                    clock_offset
                } else {
                    None
                },
                detail,
            });
        }
        let (_, _, range) = self
            .signer
            .verify_message_byte(bytes, Some(request_mac), true)
            .map_err(|e| Error::TsigInvalid {
                server,
                reason: e.to_string(),
            })?;
        let now = unix_now();
        if !range.contains(&now) {
            return Err(Error::TsigInvalid {
                server,
                reason: format!("the answer was signed outside the allowed {FUDGE_SECS} s window"),
            });
        }
        Ok(())
    }
}

fn parse_key_name(name: &str) -> Result<Name, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("the key name is empty".into());
    }
    Name::from_ascii(trimmed).map_err(|e| format!("'{trimmed}' is not a valid key name: {e}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct KeyFile {
    name: String,
    algorithm: String,
    secret: String,
}

/// Splits a BIND configuration fragment into words, quoted strings and
/// punctuation, dropping comments.
fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    last = c;
                }
                if !closed {
                    return Err("a /* comment is not closed".into());
                }
            }
            '"' => {
                let mut value = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    value.push(c);
                }
                if !closed {
                    return Err("a quoted string is not closed".into());
                }
                out.push(format!("\"{value}"));
            }
            '{' | '}' | ';' => out.push(c.to_string()),
            _ => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '{' | '}' | ';' | '"') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push(word);
            }
        }
    }
    Ok(out)
}

fn unquote(token: &str) -> &str {
    token.strip_prefix('"').unwrap_or(token)
}

fn parse_key_file(text: &str) -> Result<KeyFile, String> {
    let tokens = tokens(text)?;
    let mut keys = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] != "key" {
            return Err(format!(
                "expected `key`, found `{}`",
                unquote(&tokens[i]).chars().take(20).collect::<String>()
            ));
        }
        let name = tokens.get(i + 1).ok_or("the key has no name")?;
        if tokens.get(i + 2).map(String::as_str) != Some("{") {
            return Err("expected `{` after the key name".into());
        }
        i += 3;
        let (mut algorithm, mut secret) = (None, None);
        while i < tokens.len() && tokens[i] != "}" {
            let keyword = tokens[i].as_str();
            let value = tokens.get(i + 1).ok_or("a statement has no value")?;
            if tokens.get(i + 2).map(String::as_str) != Some(";") {
                return Err(format!("expected `;` after the {keyword} statement"));
            }
            match keyword {
                "algorithm" => algorithm = Some(unquote(value).to_string()),
                "secret" => secret = Some(unquote(value).to_string()),
                other => {
                    return Err(format!(
                        "unknown statement `{}` in the key",
                        other.chars().take(20).collect::<String>()
                    ));
                }
            }
            i += 3;
        }
        if tokens.get(i).map(String::as_str) != Some("}") {
            return Err("the key block is not closed with `}`".into());
        }
        i += 1;
        if tokens.get(i).map(String::as_str) == Some(";") {
            i += 1;
        }
        keys.push(KeyFile {
            name: unquote(name).to_string(),
            algorithm: algorithm.ok_or("the key has no algorithm statement")?,
            secret: secret.ok_or("the key has no secret statement")?,
        });
    }
    match keys.len() {
        0 => Err("the file holds no key".into()),
        1 => Ok(keys.remove(0)),
        n => Err(format!(
            "the file holds {n} keys; give a file with exactly one"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==";

    #[test]
    fn reads_a_tsig_keygen_file() {
        let text =
            format!("key \"ddns-key\" {{\n\talgorithm hmac-sha512;\n\tsecret \"{SECRET}\";\n}};\n");
        let key = TsigKey::from_key_file(&text).expect("valid key file");
        assert_eq!(key.name(), "ddns-key");
        assert_eq!(key.algorithm(), TsigAlgorithm::HmacSha512);
        let shown = format!("{key:?}");
        assert!(
            !shown.contains(SECRET) && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn comments_and_bare_names_are_fine() {
        let text = format!(
            "# made by hand\nkey k1 {{ /* c */ algorithm \"hmac-sha256\"; // x\n secret \"{SECRET}\"; }}"
        );
        assert_eq!(TsigKey::from_key_file(&text).expect("valid").name(), "k1");
    }

    #[test]
    fn bad_key_files_say_why_without_the_secret() {
        let cases = [
            ("", "the file holds no key"),
            (
                "key k { algorithm hmac-sha256; };",
                "the key has no secret statement",
            ),
            (
                "key k { secret \"x\"; }",
                "the key has no algorithm statement",
            ),
            (
                "key k { algorithm hmac-sha256 secret \"x\"; };",
                "expected `;` after the algorithm statement",
            ),
            ("key \"k { algorithm", "a quoted string is not closed"),
            ("options { };", "expected `key`, found `options`"),
            (
                "key a { algorithm hmac-sha256; secret \"eA==\"; }; key b { algorithm hmac-sha256; secret \"eA==\"; };",
                "the file holds 2 keys",
            ),
        ];
        for (text, expected) in cases {
            let err = TsigKey::from_key_file(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
        let text = "key k { algorithm hmac-md5; secret \"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\"; };";
        let err = TsigKey::from_key_file(text).expect_err("md5");
        assert!(
            err.starts_with("hmac-md5 is not supported by this build's TSIG library"),
            "{err}"
        );
    }

    #[test]
    fn secrets_must_be_base64_of_a_real_key() {
        let err = TsigKey::new("k", TsigAlgorithm::HmacSha256, &Secret::new("not base64!"))
            .expect_err("bad");
        assert!(err.starts_with("the secret is not valid base64"), "{err}");
        let err =
            TsigKey::new("k", TsigAlgorithm::HmacSha256, &Secret::new("eA==")).expect_err("short");
        assert_eq!(
            err,
            "the secret decodes to 1 bytes; a TSIG key has at least 16"
        );
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(
            "HMAC-SHA384.".parse::<TsigAlgorithm>(),
            Ok(TsigAlgorithm::HmacSha384)
        );
        assert!(
            "hmac-sha1"
                .parse::<TsigAlgorithm>()
                .expect_err("sha1")
                .contains("not supported")
        );
        assert!(
            "rot13"
                .parse::<TsigAlgorithm>()
                .expect_err("x")
                .contains("is not a TSIG algorithm")
        );
    }
}
