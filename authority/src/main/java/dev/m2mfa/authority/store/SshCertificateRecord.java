package dev.m2mfa.authority.store;

/**
 * One issued OpenSSH certificate as recorded. {@code kind} is {@code user} or {@code host};
 * times are epoch milliseconds; {@code revocationSeq} is the authority's latest revocation
 * event at issuance (a later revoke event for the machine revokes this certificate).
 */
public record SshCertificateRecord(long serial, String machineName, String kind, String keyId, String keyFingerprint,
    long validAfter, long validBefore, long issuedAt, long revocationSeq) {
  public static final String USER = "user";
  public static final String HOST = "host";
}
