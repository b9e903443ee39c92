-- API tokens (drbook-triggers' API, `drbook token`): only the hash of a
-- token's secret is kept, unique and indexed (every request is one lookup
-- by it); `scopes` is a JSON array of scope names; a revoked token keeps its
-- row (and its name) with the time it was revoked. SQLite's schema 8.

CREATE TABLE api_tokens (
    name text PRIMARY KEY,
    hash text NOT NULL UNIQUE,
    scopes text NOT NULL,
    created_ms bigint NOT NULL,
    created_by text NOT NULL,
    expires_ms bigint NOT NULL,
    last_used_ms bigint,
    revoked_ms bigint
);
