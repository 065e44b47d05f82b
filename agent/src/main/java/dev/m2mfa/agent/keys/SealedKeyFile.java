package dev.m2mfa.agent.keys;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * The sealed key file ({@code identity.sealed}): a PKCS#8 P-256 private key encrypted with
 * AES-256-GCM under a key derived by Argon2id from an unlock secret (an operator passphrase,
 * or the 32-byte secret that k of n Shamir shares rebuild).
 *
 * <pre>
 * header (all of it is the GCM associated data, so any change to it fails decryption):
 *   magic "M2MFASLD" | version u8 = 1 | kdf u8 = 1 (Argon2id v1.3)
 *   memory KiB u32 | iterations u32 | parallelism u8 | salt (16)
 *   secret kind u8 (1 passphrase, 2 shares) | threshold u8 | share count u8
 *   public key length u16 | public key (X.509 SubjectPublicKeyInfo)
 *   check (16) = HMAC-SHA256(check key, "m2mfa sealed check" | KDF parameters | salt)[0..16)
 *   nonce (12)
 * body: ciphertext length u32 | AES-256-GCM(PKCS#8) with a 128-bit tag
 * </pre>
 *
 * Argon2id gives 64 bytes: the AES key and the check key. The check value tells a wrong
 * unlock secret (check differs) apart from a modified file (check holds, GCM fails); it
 * helps an offline guesser no more than the GCM tag already does. The public key is in
 * clear (authenticated) so a locked agent knows its key thumbprint. Reading bounds every
 * field: a hostile file cannot make Argon2 allocate more than 1 GiB.
 *
 * <p>Hand-written because no library offers this exact container; the primitives are the
 * JDK's AES-GCM and HMAC and BouncyCastle's Argon2id.
 */
record SealedKeyFile(int memoryKib, int iterations, int parallelism, byte[] salt, int secretKind, int threshold, int shareCount,
    byte[] publicKey, byte[] check, byte[] nonce, byte[] ciphertext) {
  static final byte[] MAGIC = "M2MFASLD".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  static final int VERSION = 1;
  static final int KIND_PASSPHRASE = 1;
  static final int KIND_SHARES = 2;
  static final int MAX_FILE = 8192;
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Argon2id cost; defaults m=64 MiB, t=3, p=1. */
  record KdfParameters(int memoryKib, int iterations, int parallelism) {
    static final KdfParameters DEFAULT = new KdfParameters(64 * 1024, 3, 1);

    KdfParameters {
      if (memoryKib < 8 * 1024 || memoryKib > 1024 * 1024) throw new IllegalArgumentException("Argon2 memory must be 8 MiB to 1 GiB");
      if (iterations < 1 || iterations > 16) throw new IllegalArgumentException("Argon2 iterations must be 1-16");
      if (parallelism < 1 || parallelism > 16) throw new IllegalArgumentException("Argon2 parallelism must be 1-16");
    }
  }

  /** Encrypts {@code pkcs8} under {@code secret}; neither argument is kept. */
  static SealedKeyFile seal(byte[] pkcs8, byte[] publicKey, byte[] secret, int kind, int threshold, int shareCount, KdfParameters kdf,
      byte[] salt) {
    if (salt.length != 16) throw new IllegalArgumentException("salt must be 16 bytes");
    byte[] nonce = new byte[12];
    RANDOM.nextBytes(nonce);
    byte[] derived = derive(secret, salt, kdf.memoryKib(), kdf.iterations(), kdf.parallelism());
    try {
      byte[] check = check(derived, kdf.memoryKib(), kdf.iterations(), kdf.parallelism(), salt);
      SealedKeyFile unsealedBody = new SealedKeyFile(kdf.memoryKib(), kdf.iterations(), kdf.parallelism(), salt, kind, threshold, shareCount,
          publicKey, check, nonce, new byte[0]);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(derived, 0, 32, "AES"), new GCMParameterSpec(128, nonce));
      c.updateAAD(unsealedBody.header());
      byte[] ct = c.doFinal(pkcs8);
      return new SealedKeyFile(kdf.memoryKib(), kdf.iterations(), kdf.parallelism(), salt, kind, threshold, shareCount, publicKey, check,
          nonce, ct);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("sealing failed", e);
    } finally {
      Arrays.fill(derived, (byte) 0);
    }
  }

  static byte[] newSalt() {
    byte[] salt = new byte[16];
    RANDOM.nextBytes(salt);
    return salt;
  }

  /** Decrypts with {@code secret}; returns the PKCS#8 bytes (the caller zeroes them). */
  byte[] open(byte[] secret, String what) throws UnlockRefusedException {
    byte[] derived = derive(secret, salt, memoryKib, iterations, parallelism);
    try {
      byte[] expected = check(derived, memoryKib, iterations, parallelism, salt);
      if (!MessageDigest.isEqual(expected, check)) {
        throw new UnlockRefusedException(what + " cannot unlock this key (or the file's key-derivation parameters were modified)");
      }
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(derived, 0, 32, "AES"), new GCMParameterSpec(128, nonce));
      c.updateAAD(header());
      return c.doFinal(ciphertext);
    } catch (AEADBadTagException e) {
      throw new UnlockRefusedException("the sealed key file was modified: its header or ciphertext fails authentication");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("unsealing failed", e);
    } finally {
      Arrays.fill(derived, (byte) 0);
    }
  }

  private static byte[] derive(byte[] secret, byte[] salt, int memoryKib, int iterations, int parallelism) {
    Argon2Parameters params = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id).withVersion(Argon2Parameters.ARGON2_VERSION_13)
        .withMemoryAsKB(memoryKib).withIterations(iterations).withParallelism(parallelism).withSalt(salt).build();
    Argon2BytesGenerator g = new Argon2BytesGenerator();
    g.init(params);
    byte[] out = new byte[64];
    g.generateBytes(secret, out);
    return out;
  }

  private static byte[] check(byte[] derived, int memoryKib, int iterations, int parallelism, byte[] salt) throws GeneralSecurityException {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(derived, 32, 32, "HmacSHA256"));
    mac.update("m2mfa sealed check".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    mac.update(ByteBuffer.allocate(13).putInt(memoryKib).putInt(iterations).put((byte) parallelism).putInt(salt.length).array());
    mac.update(salt);
    return Arrays.copyOf(mac.doFinal(), 16);
  }

  /** The header bytes: the GCM associated data. */
  byte[] header() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.write(MAGIC);
      out.writeByte(VERSION);
      out.writeByte(1);
      out.writeInt(memoryKib);
      out.writeInt(iterations);
      out.writeByte(parallelism);
      out.write(salt);
      out.writeByte(secretKind);
      out.writeByte(threshold);
      out.writeByte(shareCount);
      out.writeShort(publicKey.length);
      out.write(publicKey);
      out.write(check);
      out.write(nonce);
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  byte[] encode() {
    byte[] h = header();
    return ByteBuffer.allocate(h.length + 4 + ciphertext.length).put(h).putInt(ciphertext.length).put(ciphertext).array();
  }

  static SealedKeyFile decode(byte[] file) throws IOException {
    if (file.length > MAX_FILE) throw new IOException("not a sealed key file (too large)");
    try {
      DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(file));
      byte[] magic = in.readNBytes(MAGIC.length);
      if (!Arrays.equals(magic, MAGIC)) throw new IOException("not a sealed key file (bad magic)");
      int version = in.readUnsignedByte();
      if (version != VERSION) throw new IOException("sealed key file format version " + version + " is not supported (expected " + VERSION + ")");
      int kdf = in.readUnsignedByte();
      if (kdf != 1) throw new IOException("sealed key file names an unknown key-derivation function (" + kdf + ")");
      int m = in.readInt();
      int t = in.readInt();
      int p = in.readUnsignedByte();
      try {
        new KdfParameters(m, t, p);
      } catch (IllegalArgumentException e) {
        throw new IOException("sealed key file header has out-of-range Argon2 parameters: " + e.getMessage());
      }
      byte[] salt = in.readNBytes(16);
      int kind = in.readUnsignedByte();
      int k = in.readUnsignedByte();
      int n = in.readUnsignedByte();
      if (kind != KIND_PASSPHRASE && kind != KIND_SHARES) throw new IOException("sealed key file header has an unknown secret kind");
      if (kind == KIND_SHARES && (k < 2 || n < k || n > 16)) throw new IOException("sealed key file header has an invalid share threshold");
      int pubLen = in.readUnsignedShort();
      if (pubLen > 200) throw new IOException("sealed key file header is malformed");
      byte[] pub = in.readNBytes(pubLen);
      byte[] check = in.readNBytes(16);
      byte[] nonce = in.readNBytes(12);
      int ctLen = in.readInt();
      if (ctLen < 16 || ctLen > 4096) throw new IOException("sealed key file body is malformed");
      byte[] ct = in.readNBytes(ctLen);
      if (pub.length != pubLen || nonce.length != 12 || ct.length != ctLen || in.available() != 0) throw new IOException("sealed key file is truncated or has trailing bytes");
      return new SealedKeyFile(m, t, p, salt, kind, k, n, pub, check, nonce, ct);
    } catch (java.io.EOFException e) {
      throw new IOException("sealed key file is truncated");
    }
  }

  @Override
  public String toString() {
    return "SealedKeyFile[argon2id m=" + memoryKib + "KiB t=" + iterations + " p=" + parallelism + ", kind=" + secretKind + "]";
  }
}
