//! The ARM routes.
//!
//! Layout, in the order a request meets them:
//! - `admin`: the routers (HTTPS: everything; plain HTTP: the token
//!   endpoint and admin), the token endpoint, the admin routes.
//! - `cloud`: the cloud's metadata, Entra's OpenID discovery, the
//!   subscriptions a token sees: what `az login` reads.
//! - `path`: parsing an ARM path into a route.
//! - `checks`: what every ARM request meets before it is served.
//! - `handlers`: serving it.
//! - `input`: an action's body as the simulator's request.
//! - `network`: the `Microsoft.Network` resources (DNS A record sets,
//!   Traffic Manager endpoints) and the file they are kept in.
//! - `shared`: the state every handler shares.

mod admin;
mod checks;
mod cloud;
mod handlers;
mod input;
mod network;
mod path;
mod shared;

pub(crate) use admin::{identity_router, router};
pub(crate) use network::Network;
pub(crate) use shared::{DropConnection, Shared};
