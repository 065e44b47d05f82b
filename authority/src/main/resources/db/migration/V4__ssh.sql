-- Every OpenSSH certificate the authority issued (user and host), so that revoking a machine
-- can revoke each certificate it holds in the KRL. revocation_seq is the latest revocation
-- event sequence number when the certificate was issued: an event for the same machine with a
-- higher seq revokes it, even after the machine is reinstated.
CREATE TABLE ssh_certificates (
  serial          BIGINT PRIMARY KEY,
  machine_name    TEXT NOT NULL,
  kind            TEXT NOT NULL,
  key_id          TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  valid_after     BIGINT NOT NULL,
  valid_before    BIGINT NOT NULL,
  issued_at       BIGINT NOT NULL,
  revocation_seq  BIGINT NOT NULL
);
CREATE INDEX ssh_certificates_machine ON ssh_certificates (machine_name);
CREATE INDEX ssh_certificates_valid_before ON ssh_certificates (valid_before);
