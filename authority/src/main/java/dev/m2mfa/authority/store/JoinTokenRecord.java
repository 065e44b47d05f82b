package dev.m2mfa.authority.store;

/** A join token as stored: only the SHA-256 of the token, never the token itself. */
public record JoinTokenRecord(String tokenHash, String machineName, String policyClass, String networks,
    long expiresAt, long createdAt, Long usedAt) {
  @Override
  public String toString() {
    return "JoinTokenRecord[machine=" + machineName + ", class=" + policyClass + ", expiresAt=" + expiresAt + "]";
  }
}
