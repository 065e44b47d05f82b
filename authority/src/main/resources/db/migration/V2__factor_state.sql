-- Per machine, per factor state that a factor verifier keeps (otp-chain hashes, hardware
-- attestation records, posture baselines), as factor-defined JSON text.
CREATE TABLE factor_state (
  machine_name TEXT NOT NULL,
  factor       TEXT NOT NULL,
  state        TEXT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (machine_name, factor)
);

-- A join token either enrolls a new machine or re-enrolls a locked or revoked one (admin action).
ALTER TABLE join_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'enroll';
