//! Why a request was refused. Each refusal has its HTTP status, a short
//! reason (the metric label and the log line) and a message for the caller
//! that gives nothing away: an unknown webhook and a bad, expired or
//! disabled token all read 400 "invalid webhook token" to the caller (so
//! webhook names cannot be enumerated), while the log and the metric say
//! which it was. An API token refused says why (missing, unknown, expired,
//! revoked: what its holder can tell already), never which tokens exist.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use drbook_core::store::Busy;
use drbook_core::token::Scope;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such webhook")]
    UnknownWebhook,
    #[error("the token does not match")]
    BadToken,
    #[error("the webhook has expired")]
    Expired,
    #[error("the webhook is disabled")]
    Disabled,
    #[error("a signature header is missing or empty")]
    MissingSignature,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is outside the replay window")]
    StaleTimestamp,
    #[error(
        "message id `{}` was already delivered with another body; a retry resends the same body, a new message \
         needs a new webhook-id",
        .0.escape_debug()
    )]
    ReusedMessageId(String),
    #[error(
        "{busy}; one job at a time changes a plan: a delivery after it has ended starts a job, or the rule's \
         `on-busy` may attach or queue"
    )]
    PlanBusy { busy: Busy },
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the client sent its body too slowly")]
    SlowClient,
    #[error("{0}")]
    Malformed(String),
    #[error("parameter `{0}` is fixed on this webhook")]
    FixedParameter(String),
    #[error("too many deliveries to this webhook; retry later")]
    RateLimited,
    #[error("the job store failed: {0}")]
    Store(String),
    #[error(
        "this route needs an API token: send `Authorization: Bearer drbk_...` (`drbook token create` makes one)"
    )]
    TokenMissing,
    #[error("the API token is not valid (unknown, or not a drbook token)")]
    TokenUnknown,
    #[error("the API token has expired; `drbook token create` makes a new one")]
    TokenExpired,
    #[error("the API token has been revoked; `drbook token create` makes a new one")]
    TokenRevoked,
    #[error(
        "the session is not valid (unknown, or not a drbook session): sign in again at /ui/sign-in"
    )]
    SessionUnknown,
    #[error("the session has expired: sign in again at /ui/sign-in")]
    SessionExpired,
    #[error("the session was signed out, or the token it signed in with was revoked: sign in again at /ui/sign-in")]
    SessionEnded,
    #[error("sign-in refused: {0}")]
    SignIn(String),
    #[error("{0}")]
    FourEyes(String),
    #[error("this needs scope `{need}`, and the token holds {held}")]
    Forbidden { need: Scope, held: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many refused requests from this address; retry later")]
    SourceThrottled,
    #[error("too many connections at once; retry later")]
    TooManyConnections,
    #[error("the form's CSRF token is missing or does not match its cookie: load the form again and resend it")]
    Csrf,
    #[error("{0} live streams are open, the most this server serves at once; retry later")]
    TooManyStreams(usize),
}

impl Refusal {
    /// The label of `drbook_webhook_rejections_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::UnknownWebhook => "unknown_webhook",
            Refusal::BadToken => "bad_token",
            Refusal::Expired => "expired",
            Refusal::Disabled => "disabled",
            Refusal::MissingSignature => "missing_signature",
            Refusal::BadSignature => "bad_signature",
            Refusal::StaleTimestamp => "stale_timestamp",
            Refusal::ReusedMessageId(_) => "reused_message_id",
            Refusal::PlanBusy { .. } => "plan_busy",
            Refusal::TooLarge(_) => "too_large",
            Refusal::SlowClient => "slow_client",
            Refusal::Malformed(_) => "malformed",
            Refusal::FixedParameter(_) => "fixed_parameter",
            Refusal::RateLimited => "rate_limited",
            Refusal::Store(_) => "store_error",
            Refusal::TokenMissing => "token_missing",
            Refusal::TokenUnknown => "token_unknown",
            Refusal::TokenExpired => "token_expired",
            Refusal::TokenRevoked => "token_revoked",
            Refusal::SessionUnknown => "session_unknown",
            Refusal::SessionExpired => "session_expired",
            Refusal::SessionEnded => "session_ended",
            Refusal::SignIn(_) => "sign_in_refused",
            Refusal::FourEyes(_) => "four_eyes",
            Refusal::Forbidden { .. } => "forbidden",
            Refusal::NotFound(_) => "not_found",
            Refusal::Conflict(_) => "conflict",
            Refusal::SourceThrottled => "source_throttled",
            Refusal::TooManyConnections => "too_many_connections",
            Refusal::TooManyStreams(_) => "too_many_streams",
            Refusal::Csrf => "csrf",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::SlowClient => StatusCode::REQUEST_TIMEOUT,
            Refusal::RateLimited | Refusal::SourceThrottled => StatusCode::TOO_MANY_REQUESTS,
            Refusal::TooManyConnections | Refusal::TooManyStreams(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Refusal::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::TokenMissing
            | Refusal::TokenUnknown
            | Refusal::TokenExpired
            | Refusal::TokenRevoked
            | Refusal::SessionUnknown
            | Refusal::SessionExpired
            | Refusal::SessionEnded
            | Refusal::SignIn(_) => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden { .. } | Refusal::Csrf | Refusal::FourEyes(_) => {
                StatusCode::FORBIDDEN
            }
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::Conflict(_) => StatusCode::CONFLICT,
            Refusal::PlanBusy { .. } => StatusCode::CONFLICT,
            // The Idempotency-Key draft's answer to a key reused with
            // another payload.
            Refusal::ReusedMessageId(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Whether the caller failed to prove who it is: these count against
    /// its address (`limits::SourceLimiter`).
    pub fn unauthenticated(&self) -> bool {
        matches!(
            self,
            Refusal::UnknownWebhook
                | Refusal::BadToken
                | Refusal::Expired
                | Refusal::Disabled
                | Refusal::TokenMissing
                | Refusal::TokenUnknown
                | Refusal::TokenExpired
                | Refusal::TokenRevoked
                | Refusal::SessionUnknown
                | Refusal::SessionExpired
                | Refusal::SessionEnded
                | Refusal::SignIn(_)
        )
    }

    /// What the caller is told.
    fn public_message(&self) -> String {
        match self {
            Refusal::UnknownWebhook | Refusal::BadToken | Refusal::Expired | Refusal::Disabled => {
                "invalid webhook token".to_string()
            }
            Refusal::MissingSignature | Refusal::BadSignature | Refusal::StaleTimestamp => {
                "invalid webhook signature".to_string()
            }
            Refusal::Store(_) => "the job store is unavailable; retry later".to_string(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "error": self.public_message() });
        if let Refusal::PlanBusy { busy } = &self {
            body["RunningJob"] = busy.job.clone().into();
        }
        let body = axum::Json(body);
        let mut response = (self.status(), body).into_response();
        // When to try again, in seconds: a store that cannot be reached
        // (PostgreSQL restarting) is asked again by workers every 5 s at
        // most, and a sender that came too early is refused again.
        let retry_after = match self {
            Refusal::RateLimited
            | Refusal::SourceThrottled
            | Refusal::TooManyConnections
            | Refusal::TooManyStreams(_) => Some("1"),
            Refusal::Store(_) => Some("5"),
            _ => None,
        };
        if self.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"drbook\""),
            );
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_cannot_be_reached_is_a_503_with_retry_after() {
        let response =
            Refusal::Store("the job store cannot be reached".to_string()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(axum::http::header::RETRY_AFTER),
            Some(&axum::http::HeaderValue::from_static("5"))
        );
    }
}
