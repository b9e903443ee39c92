-- Browser sessions (drbook-triggers' console): the SHA-256 of the cookie's
-- random id is the key; `scopes` a JSON array as a token's; `token` the API
-- token it signed in with (revoking the token revokes its sessions, by this
-- index), `subject` the OpenID Connect `sub`. SQLite's schema 9.

CREATE TABLE sessions (
    hash text PRIMARY KEY,
    principal text NOT NULL,
    scopes text NOT NULL,
    token text,
    subject text,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    revoked_ms bigint
);
CREATE INDEX sessions_by_token ON sessions (token) WHERE token IS NOT NULL;
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);
