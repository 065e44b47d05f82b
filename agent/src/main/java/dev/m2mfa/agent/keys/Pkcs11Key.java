package dev.m2mfa.agent.keys;

import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Optional;

/**
 * A key inside a PKCS#11 token. {@link #tlsKey()} hands JSSE the token's key object, which
 * carries no key bytes ({@code getEncoded()} is null for a sensitive key): every signature
 * is made by the token through SunPKCS11.
 */
final class Pkcs11Key implements MachineSigner {
  private final Provider provider;
  private final PrivateKey key;
  private final PublicKey publicKey;

  Pkcs11Key(Provider provider, PrivateKey key, PublicKey publicKey) {
    this.provider = provider;
    this.key = key;
    this.publicKey = publicKey;
  }

  @Override
  public byte[] sign(byte[] data) {
    try {
      Signature s = Signature.getInstance("SHA256withECDSA", provider);
      s.initSign(key);
      s.update(data);
      return s.sign();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("the PKCS#11 token refused to sign", e);
    }
  }

  @Override
  public PublicKey publicKey() {
    return publicKey;
  }

  @Override
  public String provider() {
    return "pkcs11";
  }

  @Override
  public Optional<PrivateKey> tlsKey() {
    return Optional.of(key);
  }

  @Override
  public String toString() {
    return "Pkcs11Key[P-256, in token " + provider.getName() + "]";
  }
}
