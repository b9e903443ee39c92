//! What starts jobs. Today: `drbook serve`, alerts and webhooks in, durable
//! jobs out (schedules come next).
//!
//! A webhook is a secret URL (Azure Automation's model) bound to a runbook and
//! a recovery plan, optionally with rules that map Azure Monitor alerts to
//! runs and with a Standard Webhooks signature required on top of the token.
//! A delivery becomes jobs in the job store in one transaction (one job at a
//! time changes a plan: a delivery to a busy plan attaches to its job, queues
//! or is refused); the worker running in the same process is woken at once
//! to run them.
//!
//! The same server is how people and programs watch and steer jobs: a JSON
//! API under `/api/v1/` (documented by its OpenAPI file), a job's lines live
//! (server-sent events) and the console's pages under `/ui`, every route
//! but the webhook endpoint and `/healthz` behind an API token's scope.
//!
//! Layout, in the order a request meets them:
//! - `server`: the accept loop with its timeouts (and TLS), graceful
//!   shutdown; the webhook and operations endpoints.
//! - `api`: the route table (what scope each route needs, the one source of
//!   it) and the JSON API under `/api/v1/`.
//! - `access`: API tokens, browser sessions and the principal a request
//!   acts as.
//! - `oidc`: signing in through an OpenID Connect provider (Entra ID).
//! - `audit`: the audit trail (who started, decided, stopped what), read
//!   back from what the job store records.
//! - `console`: the console's pages under `/ui` (maud, assets embedded).
//! - `events`: a job's stream lines live, as server-sent events.
//! - `openapi`: the API's OpenAPI document, from the handlers' annotations.
//! - `control`: deciding a manual step and stopping a job, for the API and
//!   the CLI alike.
//! - `limits`: the body cap, the connection cap, the per-webhook rate limit
//!   and the per-address limit on refused requests.
//! - `auth`: tokens (stored as hashes, compared in constant time) and
//!   Standard Webhooks HMAC signatures.
//! - `registry`: the webhooks in the job store.
//! - `alert_rules`: the rules file: which alerts start which runs (the
//!   alert itself, typed, is drbook-core's `alert`).
//! - `deliver`: one delivery, from an authenticated request to job ids.
//! - `refusal`: why a request was refused: its status, log line and metric.
//! - `metrics`: Prometheus text.
//! - `log`: escaping what clients send, and refusals at a bounded rate.

mod access;
mod alert_rules;
mod api;
mod audit;
mod auth;
mod console;
mod control;
mod deliver;
mod events;
mod limits;
mod log;
mod metrics;
mod oidc;
mod openapi;
mod refusal;
mod registry;
mod server;

pub use access::{
    authenticate, create_token, hash_secret, revoke_token, scope_list, NewToken, Principal,
    TokenError, DEFAULT_TOKEN_LIFETIME, SESSION_LIFETIME, TOKEN_PREFIX,
};
pub use alert_rules::{LoadedRunbook, Rule, RuleAction, RuleMatch, RulesFile};
pub use api::{routes, AuditQuery, Decision, JobQuery, Line, Lines, Need, Route, TokenView};
pub use audit::{AuditEvent, AuditKind};
pub use auth::{sign, SIGNATURE_HEADERS};
pub use control::{decide, stop, ControlError, Decided, Deciders, Stopped};
pub use deliver::Accepted;
pub use events::{BATCH, MAX_STREAMS, POLL};
pub use limits::{RateLimit, MAX_BODY, MAX_CONNECTIONS};
pub use log::LogSink;
pub use metrics::Metrics;
pub use oidc::{Oidc, OidcConfig, OidcError, RoleMapping};
pub use openapi::document as openapi_document;
pub use refusal::Refusal;
pub use registry::{Created, NewWebhook, RunTarget, Webhook, WebhookError, Webhooks};
pub use server::{serve, ServeError, ServeOptions, Server};
