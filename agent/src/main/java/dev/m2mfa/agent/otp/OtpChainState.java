package dev.m2mfa.agent.otp;

import dev.m2mfa.api.otp.OtpEnvelope;
import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECPrivateKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;

/**
 * The agent's half of the otp-chain factor, three files in its state directory:
 * {@code otp-chain.key} (the HPKE chain key, PKCS#8, mode 0600: not encrypted, because it guards
 * against clones, not copies, and the secret beside it is readable by the same user anyway),
 * {@code otp-chain.pub} (its public point) and {@code otp-chain.secret} (the current one-time
 * secret, 0600).
 *
 * <p>Durability rule: a new secret is written to a temporary file, fsynced, renamed over the
 * old one and the directory fsynced ({@link KeyFiles#writeAtomically}) before the credential of
 * that login is used. A crash at any point leaves either the old or the new secret, never a
 * torn one; the authority treats "old secret again" as a crash, not a clone.
 */
public final class OtpChainState {
  public static final String KEY_FILE = "otp-chain.key";
  public static final String PUBLIC_FILE = "otp-chain.pub";
  public static final String SECRET_FILE = "otp-chain.secret";

  private final Path dir;
  private final AsymmetricCipherKeyPair chainKey;

  private OtpChainState(Path dir, AsymmetricCipherKeyPair chainKey) {
    this.dir = dir;
    this.chainKey = chainKey;
  }

  /** Generates and stores a new chain key; refuses to overwrite one. */
  public static OtpChainState create(Path dir) throws IOException {
    if (Files.exists(dir.resolve(KEY_FILE))) throw new IOException("an otp-chain key already exists in " + dir.getFileName());
    AsymmetricCipherKeyPair kp = OtpEnvelope.newChainKey();
    byte[] pub = OtpEnvelope.publicKey(kp);
    byte[] priv = OtpEnvelope.privateKey(kp);
    try {
      ECPublicKey params = (ECPublicKey) KeyFiles.newP256().getPublic();
      ECPrivateKey jdk = (ECPrivateKey) KeyFactory.getInstance("EC")
          .generatePrivate(new ECPrivateKeySpec(new BigInteger(1, priv), params.getParams()));
      KeyFiles.writePlain(dir.resolve(KEY_FILE), jdk);
      KeyFiles.writeAtomically(dir.resolve(PUBLIC_FILE), Base64.getUrlEncoder().withoutPadding().encode(pub), "rw-r--r--");
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException("cannot store the otp-chain key", e);
    } finally {
      Arrays.fill(priv, (byte) 0);
    }
    return new OtpChainState(dir, kp);
  }

  /**
   * For drills only: a chain key held in memory (only the public file is written), so that a
   * drill enrolling thousands of machines does not spend its time on PBKDF2; the secret file
   * is handled exactly as in {@link #create}.
   */
  public static OtpChainState createInMemoryForDrill(Path dir) throws IOException {
    AsymmetricCipherKeyPair kp = OtpEnvelope.newChainKey();
    KeyFiles.writeAtomically(dir.resolve(PUBLIC_FILE), Base64.getUrlEncoder().withoutPadding().encode(OtpEnvelope.publicKey(kp)), "rw-r--r--");
    return new OtpChainState(dir, kp);
  }

  /** The same chain key over another directory (a copy of this agent's files, as a disk image carries them). */
  public OtpChainState sameKeyIn(Path otherDir) {
    return new OtpChainState(otherDir, chainKey);
  }

  /** Opens the chain state of an enrolled agent, or returns null if it has none (enrolled before otp-chain). */
  public static OtpChainState open(Path dir) throws IOException {
    if (!Files.exists(dir.resolve(KEY_FILE))) return null;
    ECPrivateKey key = (ECPrivateKey) KeyFiles.readPlain(dir.resolve(KEY_FILE));
    byte[] pub = Base64.getUrlDecoder().decode(Files.readString(dir.resolve(PUBLIC_FILE), StandardCharsets.US_ASCII).strip());
    byte[] priv = scalar(key.getS());
    try {
      return new OtpChainState(dir, OtpEnvelope.chainKey(priv, pub));
    } finally {
      Arrays.fill(priv, (byte) 0);
    }
  }

  /** The chain key's public point, base64url, for the enrollment request. */
  public String publicKey() {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(OtpEnvelope.publicKey(chainKey));
  }

  /** The evidence for a login: the current secret, or an empty map when there is none yet. */
  public Map<String, Object> evidence() throws IOException {
    Path f = dir.resolve(SECRET_FILE);
    if (!Files.exists(f)) return Map.of();
    if (Files.size(f) > 100) throw new IOException("otp-chain secret file is corrupt");
    return Map.of("secret", Files.readString(f, StandardCharsets.US_ASCII).strip());
  }

  /**
   * Opens a sealed secret from the authority and persists it durably; returns only after the
   * directory entry is on disk.
   */
  public void accept(String machineName, String enc, String ciphertext) throws IOException {
    byte[] secret;
    try {
      secret = OtpEnvelope.open(chainKey, machineName, new OtpEnvelope.Sealed(enc, ciphertext));
    } catch (IllegalArgumentException e) {
      throw new IOException("the authority's next one-time secret does not open with this agent's chain key");
    }
    byte[] text = Base64.getUrlEncoder().withoutPadding().encode(secret);
    try {
      KeyFiles.writeAtomically(dir.resolve(SECRET_FILE), text, "rw-------");
    } finally {
      Arrays.fill(secret, (byte) 0);
      Arrays.fill(text, (byte) 0);
    }
  }

  private static byte[] scalar(BigInteger s) {
    byte[] raw = s.toByteArray();
    byte[] out = new byte[32];
    int n = Math.min(32, raw.length);
    System.arraycopy(raw, raw.length - n, out, 32 - n, n);
    Arrays.fill(raw, (byte) 0);
    return out;
  }

  /** Removes the chain files (a refused enrollment). */
  public static void delete(Path dir) throws IOException {
    for (String f : new String[] {KEY_FILE, PUBLIC_FILE, SECRET_FILE}) Files.deleteIfExists(dir.resolve(f));
  }

  @Override
  public String toString() {
    return "OtpChainState[" + dir.getFileName() + "]";
  }
}
