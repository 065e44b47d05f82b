package dev.m2mfa.agent.keys;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECPoint;

/**
 * A software identity key in this process: a P-256 key generated on the machine, stored as
 * an encrypted PKCS#8 file (mode 0600) by {@link SoftwareKeyProvider}. Defeats casual
 * disclosure of the file alone; an attacker who reads the file and the passphrase (both on
 * the box) copies the key, which is why the other factors and the hardware providers exist.
 * The sealed provider reuses this class for a key it has just decrypted.
 */
public final class SoftwareKey implements MachineSigner {
  private static final java.security.Provider BC = new org.bouncycastle.jce.provider.BouncyCastleProvider();
  private final PrivateKey privateKey;
  private final PrivateKey signingKey; // the same key as BouncyCastle's own object, converted once
  private final PublicKey publicKey;

  SoftwareKey(PrivateKey privateKey, PublicKey publicKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    byte[] pkcs8 = privateKey.getEncoded();
    try {
      this.signingKey = java.security.KeyFactory.getInstance("EC", BC).generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(pkcs8));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("unusable identity key", e);
    } finally {
      java.util.Arrays.fill(pkcs8, (byte) 0);
    }
  }

  /** PKCS#8 bytes for the sealed provider to encrypt; the caller zeroes them. */
  byte[] encodedForSealing() {
    return privateKey.getEncoded();
  }

  /** Generates a new key and writes it encrypted to {@code file}; refuses to overwrite. */
  static SoftwareKey generate(Path file, char[] passphrase) throws IOException {
    if (Files.exists(file)) throw new KeyProvider.KeyExistsException("an identity key already exists at " + file.getFileName());
    KeyPair kp = KeyFiles.newP256();
    KeyFiles.writeEncrypted(file, kp.getPrivate(), passphrase);
    return new SoftwareKey(kp.getPrivate(), kp.getPublic());
  }

  static SoftwareKey open(Path file, char[] passphrase) throws IOException {
    PrivateKey key = KeyFiles.readEncrypted(file, passphrase);
    return new SoftwareKey(key, publicOf((ECPrivateKey) key));
  }

  static PublicKey publicOf(ECPrivateKey key) {
    try {
      var spec = key.getParams();
      var curve = org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util.convertCurve(spec.getCurve());
      var g = org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util.convertPoint(curve, spec.getGenerator());
      var q = g.multiply(key.getS()).normalize();
      ECPoint w = new ECPoint(q.getAffineXCoord().toBigInteger(), q.getAffineYCoord().toBigInteger());
      return java.security.KeyFactory.getInstance("EC").generatePublic(new java.security.spec.ECPublicKeySpec(w, spec));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public byte[] sign(byte[] data) {
    try {
      Signature s = Signature.getInstance("SHA256withECDSA", BC);
      s.initSign(signingKey);
      s.update(data);
      return s.sign();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("signing failed", e);
    }
  }

  @Override
  public PublicKey publicKey() {
    return publicKey;
  }

  @Override
  public String provider() {
    return "software";
  }

  /** The key is in this process already; JSSE may use it for the client certificate. */
  @Override
  public java.util.Optional<PrivateKey> tlsKey() {
    return java.util.Optional.of(privateKey);
  }

  @Override
  public String toString() {
    return "SoftwareKey[P-256, private key redacted]";
  }
}
