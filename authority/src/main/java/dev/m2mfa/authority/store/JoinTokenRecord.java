package dev.m2mfa.authority.store;

/**
 * A join token as stored: only the SHA-256 of the token, never the token itself.
 * {@code purpose} is {@link #ENROLL} (a new machine) or {@link #REENROLL} (an admin replaces
 * the key of a locked or revoked machine that keeps its name).
 */
public record JoinTokenRecord(String tokenHash, String machineName, String policyClass, String networks,
    long expiresAt, long createdAt, Long usedAt, String purpose) {
  public static final String ENROLL = "enroll";
  public static final String REENROLL = "reenroll";

  public JoinTokenRecord(String tokenHash, String machineName, String policyClass, String networks, long expiresAt, long createdAt,
      Long usedAt) {
    this(tokenHash, machineName, policyClass, networks, expiresAt, createdAt, usedAt, ENROLL);
  }

  @Override
  public String toString() {
    return "JoinTokenRecord[machine=" + machineName + ", class=" + policyClass + ", purpose=" + purpose + ", expiresAt=" + expiresAt + "]";
  }
}
