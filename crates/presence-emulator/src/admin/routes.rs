//! The admin routes: the token check, the one match from path and method to what each
//! does, and the typed errors every route answers with (as JSON).

use super::{stream, view};
use crate::fault::serve::ReplyBody;
use crate::fault::FaultRule;
use crate::inspector;
use crate::metrics;
use crate::server::{ResponseBody, Shared};
use crate::snapshot::{Snapshot, SnapshotError};
use crate::wire::Query;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Either, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Largest request body the admin API reads (a `PUT /state` of a big state).
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;
/// Longest `POST /clock/advance` step: ten years.
const MAX_ADVANCE_SECS: f64 = 315_360_000.0;

/// Why an admin request was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AdminError {
    /// No such admin route (404).
    NotFound,
    /// The route exists, not with this method (405).
    MethodNotAllowed { allow: &'static str },
    /// A token is configured and the request did not carry it (401).
    Unauthorized,
    /// The body is over [`MAX_BODY`] (413).
    TooLarge,
    /// Input that does not parse or check (400): what is wrong, and where in the body
    /// when it is a document.
    BadRequest {
        message: String,
        path: Option<String>,
    },
}

impl From<SnapshotError> for AdminError {
    fn from(e: SnapshotError) -> Self {
        let message = e.to_string();
        AdminError::BadRequest {
            message,
            path: (!e.path.is_empty()).then_some(e.path),
        }
    }
}

impl AdminError {
    fn bad(message: impl Into<String>) -> Self {
        AdminError::BadRequest {
            message: message.into(),
            path: None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// `{"status": 400, "error": "Bad Request", "message": "…", "path": "…"}`.
    fn response(&self) -> Response<ResponseBody> {
        let status = self.status();
        let message = match self {
            AdminError::NotFound => {
                "no such admin route (see docs/EMULATOR.md, \"Admin API\")".to_owned()
            }
            AdminError::MethodNotAllowed { allow } => format!("this route takes {allow}"),
            AdminError::Unauthorized => {
                "admin requests need the header Authorization: Bearer <the --admin-token>"
                    .to_owned()
            }
            AdminError::TooLarge => format!("the body is larger than {MAX_BODY} bytes"),
            AdminError::BadRequest { message, .. } => message.clone(),
        };
        let mut body = json!({
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or(""),
            "message": message,
        });
        if let AdminError::BadRequest { path: Some(p), .. } = self {
            body["path"] = p.clone().into();
        }
        let mut resp = json_response(status, &body);
        match self {
            AdminError::MethodNotAllowed { allow } => {
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            AdminError::Unauthorized => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"presence-emulator\""),
                );
            }
            _ => {}
        }
        resp
    }
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<ResponseBody> {
    let mut resp = Response::new(Either::Left(ReplyBody::whole(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::SERVER,
        HeaderValue::from_static("presence-emulator"),
    );
    resp
}

fn json_response(status: StatusCode, body: &Value) -> Response<ResponseBody> {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    respond(status, "application/json", text.into_bytes())
}

fn ok(body: &Value) -> Response<ResponseBody> {
    json_response(StatusCode::OK, body)
}

/// Answers one request under `/_emulator`.
pub(crate) async fn serve(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    shutdown: watch::Receiver<bool>,
) -> Response<ResponseBody> {
    match route(shared, req, shutdown).await {
        Ok(resp) => resp,
        Err(e) => e.response(),
    }
}

async fn route(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    shutdown: watch::Receiver<bool>,
) -> Result<Response<ResponseBody>, AdminError> {
    let path = req.uri().path();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    if let Some((content_type, body)) = inspector::asset(path) {
        if !get {
            return Err(AdminError::MethodNotAllowed { allow: "GET" });
        }
        return Ok(respond(StatusCode::OK, content_type, body.to_vec()));
    }
    let Some(name) = path.strip_prefix("/_emulator/v1/") else {
        return Err(AdminError::NotFound);
    };
    if let Some(token) = &shared.admin.token {
        let carried = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| token.accepts(v));
        if !carried {
            return Err(AdminError::Unauthorized);
        }
    }
    let method = req.method().clone();
    let only = |allow: &'static str| {
        if allow.split(", ").any(|m| m == method.as_str()) {
            Ok(())
        } else {
            Err(AdminError::MethodNotAllowed { allow })
        }
    };
    match name {
        "state" => {
            only("GET, PUT")?;
            if method == Method::GET {
                return Ok(respond(
                    StatusCode::OK,
                    "application/json",
                    (shared.snapshot().to_json() + "\n").into_bytes(),
                ));
            }
            let body = read_body(req).await?;
            let snap = Snapshot::from_json(&body)?;
            shared.restore(&snap)?;
            let occupants: usize = snap
                .keysets
                .iter()
                .flat_map(|k| &k.channels)
                .map(|c| c.occupants.len())
                .sum();
            Ok(ok(
                &json!({"restored": {"keysets": snap.keysets.len(), "occupants": occupants}}),
            ))
        }
        "reset" => {
            only("POST")?;
            shared.reset();
            Ok(ok(&json!({"reset": true})))
        }
        "clock" => {
            only("GET")?;
            Ok(ok(&view::clock(shared)))
        }
        "clock/advance" => {
            only("POST")?;
            let by = advance_by(req.uri().query())?;
            shared.advance(by);
            shared.changed();
            Ok(ok(&view::clock(shared)))
        }
        "faults" => {
            only("GET, PUT, DELETE")?;
            if method == Method::PUT {
                let rules = fault_rules(&read_body(req).await?)?;
                shared.faults.set(rules);
                shared.changed();
            } else if method == Method::DELETE {
                shared.faults.clear();
                shared.changed();
            }
            Ok(ok(&view::faults(shared)))
        }
        "stats" => {
            only("GET")?;
            Ok(ok(&view::stats(&shared.stats())))
        }
        "metrics" => {
            only("GET")?;
            let text = metrics::render(&shared.stats());
            Ok(respond(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                text.into_bytes(),
            ))
        }
        "stream" => {
            only("GET")?;
            let mut resp = Response::new(Either::Right(stream::start(shared.clone(), shutdown)));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        _ => Err(AdminError::NotFound),
    }
}

/// The body of `PUT /faults`: a JSON array of rules, each in the JSON form or as a
/// string in the `--fault` syntax. The error names the rule (`[1]`) and what is wrong.
fn fault_rules(body: &[u8]) -> Result<Vec<FaultRule>, AdminError> {
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        AdminError::bad(format!("the body must be a JSON array of fault rules: {e}"))
    })?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let rule = match item {
                Value::String(text) => text.parse::<FaultRule>().map_err(|e| e.to_string()),
                other => serde_json::from_value::<FaultRule>(other).map_err(|e| e.to_string()),
            };
            rule.map_err(|message| AdminError::BadRequest {
                message: format!("[{i}]: {message}"),
                path: Some(format!("[{i}]")),
            })
        })
        .collect()
}

/// `seconds=N`: a number of seconds, at least 0 and at most ten years.
fn advance_by(query: Option<&str>) -> Result<Duration, AdminError> {
    let q = Query::parse(query)
        .map_err(|_| AdminError::bad("the query is not valid percent-encoding"))?;
    let Some(raw) = q.get("seconds") else {
        return Err(AdminError::bad(
            "seconds: missing (POST /_emulator/v1/clock/advance?seconds=N)",
        ));
    };
    match raw.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=MAX_ADVANCE_SECS).contains(&s) => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(AdminError::bad(format!(
            "seconds: {raw:?} is not a number of seconds in 0..={MAX_ADVANCE_SECS}"
        ))),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, AdminError> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(AdminError::TooLarge),
        Err(_) => Err(AdminError::bad("the body could not be read")),
    }
}
