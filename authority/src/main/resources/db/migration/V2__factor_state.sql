-- Per machine, per factor state that a factor verifier keeps (otp-chain hashes, hardware
-- attestation records, posture baselines), as factor-defined JSON text.
CREATE TABLE factor_state (
  machine_name TEXT NOT NULL,
  factor       TEXT NOT NULL,
  state        TEXT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (machine_name, factor)
);
