package dev.m2mfa.authority.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.authority.store.SigningKeyRecord;
import dev.m2mfa.authority.store.Store;
import java.io.IOException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.interfaces.ECPublicKey;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The token-signing keys: one primary that signs, older ones published in the JWKS until
 * every token they signed has expired ({@code publish_until = retired + max token lifetime +
 * skew}), then dropped. Private keys are stored encrypted under the operator's passphrase and
 * never leave this class: callers get a {@link ECDSASigner} handle for the primary.
 */
public final class SigningKeyring {
  private final Store store;
  private final char[] passphrase;
  private final Duration publishAfterRetire;
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SigningKeyring.class);
  private static final byte[] PROBE = "m2mfa signing key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private final java.util.Map<String, ECDSASigner> verified = new java.util.HashMap<>();
  private volatile Primary primary;
  private volatile String jwksJson;

  /** The key that signs now. */
  public record Primary(String kid, ECDSASigner signer) {
    @Override
    public String toString() {
      return "Primary[kid=" + kid + "]";
    }
  }

  public SigningKeyring(Store store, char[] passphrase, Duration maxTokenLifetime) {
    this.store = store;
    this.passphrase = passphrase.clone();
    this.publishAfterRetire = maxTokenLifetime.plusMinutes(2);
    if (store.signingKeys().all().stream().noneMatch(k -> k.retiredAt() == null)) rotate();
    else reload();
  }

  private volatile Runnable keysChanged = () -> { };

  /** Runs {@code action} after every rotation (the authority pushes it to verifiers). */
  public void onRotation(Runnable action) {
    keysChanged = action;
  }

  public Primary primary() {
    return primary;
  }

  public String jwksJson() {
    return jwksJson;
  }

  /** Creates a new primary key and retires the current one (still published for a while). */
  public synchronized String rotate() {
    long now = System.currentTimeMillis();
    KeyPair kp = KeyFiles.newP256();
    String kid;
    try {
      ECKey jwk = new ECKey.Builder(Curve.P_256, (ECPublicKey) kp.getPublic()).keyUse(KeyUse.SIGNATURE)
          .algorithm(JWSAlgorithm.ES256).keyIDFromThumbprint().build();
      kid = jwk.getKeyID();
      String pem = KeyFiles.encryptToPem(kp.getPrivate(), passphrase);
      store.transaction(() -> {
        for (SigningKeyRecord k : store.signingKeys().all()) {
          if (k.retiredAt() == null) store.signingKeys().retire(k.kid(), now, now + publishAfterRetire.toMillis());
        }
        store.signingKeys().insert(new SigningKeyRecord(kid, jwk.toJSONString(), pem, now, null, null));
        return null;
      });
    } catch (JOSEException | IOException e) {
      throw new IllegalStateException("signing key rotation failed", e);
    }
    reload();
    keysChanged.run();
    return kid;
  }

  /**
   * Drops keys past their publication window and rebuilds the JWKS. A key is published only
   * after its private part has opened under the operator's passphrase and matched its public
   * JWK: a row written into the database by someone without the passphrase is never trusted.
   */
  public synchronized void reload() {
    long now = System.currentTimeMillis();
    List<ECKey> published = new ArrayList<>();
    Primary p = null;
    for (SigningKeyRecord k : store.signingKeys().all()) {
      if (k.publishUntil() != null && k.publishUntil() < now) {
        store.signingKeys().delete(k.kid());
        verified.remove(k.kid());
        continue;
      }
      ECDSASigner signer = verified.computeIfAbsent(k.kid(), kid -> signerFor(k));
      if (signer == null) continue;
      try {
        published.add(ECKey.parse(k.publicJwk()));
      } catch (ParseException e) {
        throw new IllegalStateException("stored signing key " + k.kid() + " is unreadable", e);
      }
      if (k.retiredAt() == null) p = new Primary(k.kid(), signer);
    }
    if (p == null) throw new IllegalStateException("no usable primary signing key");
    primary = p;
    jwksJson = new JWKSet(new ArrayList<>(published)).toString(true);
  }

  /** The signer for a stored key, or null (logged) if it does not open or does not match its JWK. */
  private ECDSASigner signerFor(SigningKeyRecord k) {
    try {
      // converted once to BouncyCastle's own key object (BC converts foreign keys on every signature)
      PrivateKey key = java.security.KeyFactory.getInstance("EC", Crypto.provider())
          .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(KeyFiles.decryptPem(k.encryptedPrivateKey(), passphrase).getEncoded()));
      ECKey jwk = ECKey.parse(k.publicJwk());
      ECDSASigner signer = new ECDSASigner((java.security.interfaces.ECPrivateKey) key);
      signer.getJCAContext().setProvider(Crypto.provider());
      java.security.Signature check = java.security.Signature.getInstance("SHA256withECDSA");
      check.initSign(key);
      check.update(PROBE);
      byte[] sig = check.sign();
      check.initVerify(jwk.toECPublicKey());
      check.update(PROBE);
      if (!check.verify(sig) || !k.kid().equals(jwk.getKeyID())) {
        LOG.error("signing key {} does not match its stored public key: not published", k.kid());
        return null;
      }
      return signer;
    } catch (Exception e) {
      LOG.error("signing key {} does not open under the passphrase: not published", k.kid());
      return null;
    }
  }
}
