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
 * The software key provider: a P-256 key generated on the machine, stored as an encrypted
 * PKCS#8 file (mode 0600). Defeats casual disclosure of the file alone; an attacker who
 * reads the file and the passphrase (both on the box) copies the key, which is why the
 * other factors exist. Hardware and sealed providers come with their own classes.
 */
public final class SoftwareKeyProvider implements MachineSigner {
  private static final java.security.Provider BC = new org.bouncycastle.jce.provider.BouncyCastleProvider();
  private final PrivateKey privateKey;
  private final PrivateKey signingKey; // the same key as BouncyCastle's own object, converted once
  private final PublicKey publicKey;

  private SoftwareKeyProvider(PrivateKey privateKey, PublicKey publicKey) {
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    try {
      this.signingKey = java.security.KeyFactory.getInstance("EC", BC)
          .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(privateKey.getEncoded()));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("unusable identity key", e);
    }
  }

  /** Generates a new key and writes it encrypted to {@code file}; refuses to overwrite. */
  public static SoftwareKeyProvider generate(Path file, char[] passphrase) throws IOException {
    if (Files.exists(file)) throw new IOException("an identity key already exists at " + file);
    KeyPair kp = KeyFiles.newP256();
    KeyFiles.writeEncrypted(file, kp.getPrivate(), passphrase);
    return new SoftwareKeyProvider(kp.getPrivate(), kp.getPublic());
  }

  public static SoftwareKeyProvider open(Path file, char[] passphrase) throws IOException {
    PrivateKey key = KeyFiles.readEncrypted(file, passphrase);
    return new SoftwareKeyProvider(key, publicOf((ECPrivateKey) key));
  }

  private static PublicKey publicOf(ECPrivateKey key) {
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

  /** For building the TLS client key manager only; the key stays in this process. */
  public PrivateKey privateKeyForTls() {
    return privateKey;
  }

  @Override
  public String toString() {
    return "SoftwareKeyProvider[P-256, private key redacted]";
  }
}
