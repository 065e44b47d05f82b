-- Portable SQL: runs unchanged on SQLite and PostgreSQL (TEXT and BIGINT only; binary as base64).
CREATE TABLE machines (
  name           TEXT PRIMARY KEY,
  spiffe_id      TEXT NOT NULL,
  policy_class   TEXT NOT NULL,
  public_key     TEXT NOT NULL,
  key_thumbprint TEXT NOT NULL,
  networks       TEXT NOT NULL,
  status         TEXT NOT NULL,
  enrolled_at    BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);

CREATE TABLE join_tokens (
  token_hash   TEXT PRIMARY KEY,
  machine_name TEXT NOT NULL,
  policy_class TEXT NOT NULL,
  networks     TEXT NOT NULL,
  expires_at   BIGINT NOT NULL,
  created_at   BIGINT NOT NULL,
  used_at      BIGINT
);

CREATE TABLE revocations (
  seq     BIGINT PRIMARY KEY,
  kind    TEXT NOT NULL,
  subject TEXT NOT NULL,
  reason  TEXT NOT NULL,
  at      BIGINT NOT NULL
);

CREATE TABLE audit_log (
  seq       BIGINT PRIMARY KEY,
  at        BIGINT NOT NULL,
  event     TEXT NOT NULL,
  subject   TEXT NOT NULL,
  detail    TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL
);

CREATE TABLE signing_keys (
  kid           TEXT PRIMARY KEY,
  public_jwk    TEXT NOT NULL,
  private_key   TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  retired_at    BIGINT,
  publish_until BIGINT
);
