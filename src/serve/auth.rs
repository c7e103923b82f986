//! Credentials on every endpoint but the probes: a bearer token, basic
//! auth, or both (either is accepted). What a client sends is compared
//! as a SHA-256 digest in constant time, so that neither the time of an
//! answer nor the length of a guess tells anything of the credential.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::anyhow;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::HttpConfig;

type Digest256 = [u8; 32];

/// The credentials a request may carry, as digests.
pub struct Credentials {
    bearer: Option<Digest256>,
    /// Of `user:password`, the form a basic-auth header carries.
    basic: Option<Digest256>,
    /// Requests refused.
    pub(super) refused: AtomicU64,
}

fn digest(bytes: &[u8]) -> Digest256 {
    Sha256::digest(bytes).into()
}

/// The trimmed content of the file a setting names; `key` names the
/// setting in errors, which never quote the content.
fn read_secret(key: &str, path: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow!("cannot read {key} {path}: {e}; check the path and its permissions")
    })?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(anyhow!("{key} {path} is empty; write the credential in it"));
    }
    Ok(secret.to_owned())
}

impl Credentials {
    /// The credentials `http` asks for, reading the files it names; `None`
    /// when it asks for none.
    pub fn from_config(http: &HttpConfig) -> anyhow::Result<Option<Arc<Credentials>>> {
        let bearer = match (&http.bearer_token, &http.bearer_token_file) {
            (Some(token), _) => Some(token.expose().trim().to_owned()),
            (None, Some(path)) => Some(read_secret("http.bearer_token_file", path)?),
            (None, None) => None,
        };
        let password = match (&http.basic_password, &http.basic_password_file) {
            (Some(password), _) => Some(password.expose().to_owned()),
            (None, Some(path)) => Some(read_secret("http.basic_password_file", path)?),
            (None, None) => None,
        };
        // The config's checks make a user and a password go together.
        let basic = http
            .basic_user
            .as_ref()
            .zip(password)
            .map(|(user, password)| digest(format!("{user}:{password}").as_bytes()));
        if bearer.is_none() && basic.is_none() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Credentials {
            bearer: bearer.map(|token| digest(token.as_bytes())),
            basic,
            refused: AtomicU64::new(0),
        })))
    }

    /// Whether an `Authorization` header value carries a right credential.
    fn accepts(&self, authorization: &[u8]) -> bool {
        let (scheme, value) = match authorization.iter().position(|&b| b == b' ') {
            Some(space) => (
                &authorization[..space],
                authorization[space + 1..].trim_ascii(),
            ),
            None => return false,
        };
        let matches = |expected: &Option<Digest256>, given: &[u8]| {
            expected
                .as_ref()
                .is_some_and(|expected| bool::from(expected.ct_eq(&digest(given))))
        };
        if scheme.eq_ignore_ascii_case(b"bearer") {
            matches(&self.bearer, value)
        } else if scheme.eq_ignore_ascii_case(b"basic") {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .is_ok_and(|pair| matches(&self.basic, &pair))
        } else {
            false
        }
    }

    /// The 401 answer: one challenge per scheme accepted.
    fn challenge(&self) -> Response {
        let mut response = (StatusCode::UNAUTHORIZED, "credentials required\n").into_response();
        let headers = response.headers_mut();
        if self.basic.is_some() {
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"deskpulse\", charset=\"UTF-8\""),
            );
        }
        if self.bearer.is_some() {
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"deskpulse\""),
            );
        }
        response
    }
}

/// Lets a request through with a right credential; else answers 401 and
/// counts it.
pub async fn require(
    State(credentials): State<Arc<Credentials>>,
    request: Request,
    next: Next,
) -> Response {
    let accepted = request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|value| credentials.accepts(value.as_bytes()));
    if accepted {
        return next.run(request).await;
    }
    credentials.refused.fetch_add(1, Ordering::Relaxed);
    credentials.challenge()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn credentials(http: HttpConfig) -> Arc<Credentials> {
        Credentials::from_config(&http)
            .expect("the credentials are read")
            .expect("credentials are asked for")
    }

    fn basic(pair: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    #[test]
    fn either_credential_is_accepted_and_nothing_else() {
        let c = credentials(HttpConfig {
            bearer_token: Some(Secret::new("s3cret-token")),
            basic_user: Some("prometheus".into()),
            basic_password: Some(Secret::new("pa55")),
            ..HttpConfig::default()
        });
        for good in [
            "Bearer s3cret-token".to_owned(),
            "bearer  s3cret-token ".to_owned(),
            basic("prometheus:pa55"),
        ] {
            assert!(c.accepts(good.as_bytes()), "{good}");
        }
        for bad in [
            "Bearer s3cret-toke".to_owned(),
            "Bearer".to_owned(),
            "s3cret-token".to_owned(),
            "Token s3cret-token".to_owned(),
            basic("prometheus:pa56"),
            basic("Prometheus:pa55"),
            "Basic not-base64!".to_owned(),
            "Basic s3cret-token".to_owned(),
        ] {
            assert!(!c.accepts(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_a_scheme_not_set_is_refused() {
        let path = std::env::temp_dir().join(format!("deskpulse-token-{}", std::process::id()));
        std::fs::write(&path, "  from-a-file\n").expect("the token file is written");
        let c = credentials(HttpConfig {
            bearer_token_file: Some(path.display().to_string()),
            ..HttpConfig::default()
        });
        std::fs::remove_file(&path).expect("the token file is removed");
        assert!(c.accepts(b"Bearer from-a-file"));
        assert!(!c.accepts(basic("x:from-a-file").as_bytes()));
        let challenges: Vec<_> = c
            .challenge()
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().expect("ASCII").to_owned())
            .collect();
        assert_eq!(challenges, ["Bearer realm=\"deskpulse\""]);
    }

    #[test]
    fn no_credentials_configured_means_none_asked_for() {
        assert!(Credentials::from_config(&HttpConfig::default())
            .expect("nothing to read")
            .is_none());
    }

    #[test]
    fn an_empty_or_missing_secret_file_is_an_error_naming_the_setting() {
        let path = std::env::temp_dir().join(format!("deskpulse-empty-{}", std::process::id()));
        std::fs::write(&path, "\n").expect("the file is written");
        for file in [path.display().to_string(), "/nonexistent/token".to_owned()] {
            let error = Credentials::from_config(&HttpConfig {
                bearer_token_file: Some(file.clone()),
                ..HttpConfig::default()
            })
            .err()
            .expect("refused");
            assert!(
                format!("{error:#}").contains("http.bearer_token_file"),
                "{error:#}"
            );
        }
        std::fs::remove_file(&path).expect("the file is removed");
    }
}
