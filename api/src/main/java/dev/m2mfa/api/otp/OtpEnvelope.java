package dev.m2mfa.api.otp;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.hpke.HPKE;

/**
 * How the authority hands an agent its next one-time secret: HPKE (RFC 9180) in base mode
 * with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, to the agent's chain key,
 * with {@code info} naming the protocol and the machine. Only the holder of the chain key's
 * private half reads the secret, so a TLS-terminating proxy or a logged response does not
 * leak it. BouncyCastle's HPKE is used rather than a hand-built ECIES.
 *
 * <p>The chain key is separate from the identity key on purpose: identity keys in an HSM or a
 * TPM are sign-only (key separation), and the chain protects against clones, not copies, so a
 * software key beside the secret loses nothing.
 */
public final class OtpEnvelope {
  /** Secrets are this many random bytes. */
  public static final int SECRET_BYTES = 32;

  private OtpEnvelope() {}

  private static HPKE hpke() {
    return new HPKE(HPKE.mode_base, HPKE.kem_P256_SHA256, HPKE.kdf_HKDF_SHA256, HPKE.aead_AES_GCM256);
  }

  private static byte[] info(String machineName) {
    return ("m2mfa-otp-chain-v1 " + machineName).getBytes(StandardCharsets.UTF_8);
  }

  /** A new chain key pair for an agent; {@link #publicKey} goes to the authority. */
  public static AsymmetricCipherKeyPair newChainKey() {
    return hpke().generatePrivateKey();
  }

  /** The public half, as HPKE serializes it (65-byte uncompressed point). */
  public static byte[] publicKey(AsymmetricCipherKeyPair chainKey) {
    return hpke().serializePublicKey(chainKey.getPublic());
  }

  /** The private half (32 bytes); the caller stores it like any private key and wipes this array. */
  public static byte[] privateKey(AsymmetricCipherKeyPair chainKey) {
    return hpke().serializePrivateKey(chainKey.getPrivate());
  }

  /** Rebuilds the pair from its two serialized halves. */
  public static AsymmetricCipherKeyPair chainKey(byte[] privateKey, byte[] publicKey) {
    return hpke().deserializePrivateKey(privateKey, publicKey);
  }

  /** Checks a chain public key from an untrusted enrollment request. */
  public static boolean validPublicKey(byte[] publicKey) {
    if (publicKey == null || publicKey.length != 65) return false;
    try {
      hpke().deserializePublicKey(publicKey);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Seals {@code secret} for {@code recipient}; returns {@code enc} and the ciphertext, base64url. */
  public static Sealed seal(byte[] recipientPublicKey, String machineName, byte[] secret) {
    try {
      HPKE h = hpke();
      byte[][] out = h.seal(h.deserializePublicKey(recipientPublicKey), info(machineName), new byte[0], secret, null, null, null);
      Base64.Encoder b = Base64.getUrlEncoder().withoutPadding();
      return new Sealed(b.encodeToString(out[1]), b.encodeToString(out[0]));
    } catch (InvalidCipherTextException e) {
      throw new IllegalStateException("HPKE seal failed", e);
    }
  }

  /** Opens what {@link #seal} made; throws {@link IllegalArgumentException} if it was not for this key or was altered. */
  public static byte[] open(AsymmetricCipherKeyPair chainKey, String machineName, Sealed sealed) {
    try {
      Base64.Decoder d = Base64.getUrlDecoder();
      byte[] enc = d.decode(sealed.enc());
      byte[] ct = d.decode(sealed.ciphertext());
      if (enc.length != 65 || ct.length != SECRET_BYTES + 16) throw new IllegalArgumentException("sealed secret has the wrong size");
      byte[] secret = hpke().open(enc, chainKey, info(machineName), new byte[0], ct, null, null, null);
      if (secret.length != SECRET_BYTES) {
        Arrays.fill(secret, (byte) 0);
        throw new IllegalArgumentException("sealed secret has the wrong size");
      }
      return secret;
    } catch (InvalidCipherTextException | RuntimeException e) {
      if (e instanceof IllegalArgumentException iae && iae.getMessage() != null && iae.getMessage().startsWith("sealed")) throw iae;
      throw new IllegalArgumentException("the sealed secret does not open with this chain key");
    }
  }

  /** An HPKE encapsulated key and ciphertext, both base64url; carries no plaintext. */
  public record Sealed(String enc, String ciphertext) {}
}
