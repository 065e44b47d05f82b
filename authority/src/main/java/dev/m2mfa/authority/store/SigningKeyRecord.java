package dev.m2mfa.authority.store;

/** A token-signing key: public JWK, and the private key as encrypted PKCS#8 PEM. */
public record SigningKeyRecord(String kid, String publicJwk, String encryptedPrivateKey, long createdAt, Long retiredAt,
    Long publishUntil) {
  @Override
  public String toString() {
    return "SigningKeyRecord[kid=" + kid + ", createdAt=" + createdAt + ", retiredAt=" + retiredAt + "]";
  }
}
