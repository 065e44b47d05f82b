package dev.m2mfa.api.pki;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.ECGenParameterSpec;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Private keys at rest: encrypted PKCS#8 (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) PEM files
 * with mode 0600, written atomically. Also the 0600/atomic file helpers the rest uses.
 */
public final class KeyFiles {
  private static final int PBKDF2_ITERATIONS = 210_000;
  private static final String PBE = "PBEWithHmacSHA256AndAES_256";
  private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

  private KeyFiles() {}

  public static KeyPair newP256() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public static void writeEncrypted(Path file, PrivateKey key, char[] passphrase) throws IOException {
    writePrivate(file, encryptToPem(key, passphrase));
  }

  public static PrivateKey readEncrypted(Path file, char[] passphrase) throws IOException {
    return decryptPem(Files.readString(file), passphrase);
  }

  /**
   * Encrypted PKCS#8 PEM of {@code key} under {@code passphrase}: PBES2 with
   * PBKDF2-HMAC-SHA256 and AES-256-CBC, through the JDK's provider (its PBKDF2 uses the CPU's
   * SHA instructions; several times faster here than a pure-Java implementation).
   */
  public static String encryptToPem(PrivateKey key, char[] passphrase) throws IOException {
    try {
      byte[] salt = new byte[16];
      byte[] iv = new byte[16];
      RANDOM.nextBytes(salt);
      RANDOM.nextBytes(iv);
      javax.crypto.SecretKeyFactory f = javax.crypto.SecretKeyFactory.getInstance(PBE);
      javax.crypto.SecretKey pbeKey = f.generateSecret(new javax.crypto.spec.PBEKeySpec(passphrase));
      javax.crypto.Cipher c = javax.crypto.Cipher.getInstance(PBE);
      c.init(javax.crypto.Cipher.ENCRYPT_MODE, pbeKey,
          new javax.crypto.spec.PBEParameterSpec(salt, PBKDF2_ITERATIONS, new javax.crypto.spec.IvParameterSpec(iv)));
      java.security.AlgorithmParameters pbes2 = java.security.AlgorithmParameters.getInstance("PBES2");
      pbes2.init(c.getParameters().getEncoded());
      byte[] der = new javax.crypto.EncryptedPrivateKeyInfo(pbes2, c.doFinal(key.getEncoded())).getEncoded();
      return "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
          + "\n-----END ENCRYPTED PRIVATE KEY-----\n";
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException("cannot encrypt key", e);
    }
  }

  /** Decrypts an encrypted PKCS#8 PEM; a wrong passphrase or a tampered file both fail the same way. */
  public static PrivateKey decryptPem(String pem, char[] passphrase) throws IOException {
    if (pem.length() > Pem.MAX_PEM_CHARS) throw new IOException("key file too large");
    try {
      String b64 = pem.replace("-----BEGIN ENCRYPTED PRIVATE KEY-----", "").replace("-----END ENCRYPTED PRIVATE KEY-----", "");
      var info = new javax.crypto.EncryptedPrivateKeyInfo(java.util.Base64.getMimeDecoder().decode(b64));
      javax.crypto.SecretKey pbeKey = javax.crypto.SecretKeyFactory.getInstance(info.getAlgName())
          .generateSecret(new javax.crypto.spec.PBEKeySpec(passphrase));
      javax.crypto.Cipher c = javax.crypto.Cipher.getInstance(info.getAlgName());
      c.init(javax.crypto.Cipher.DECRYPT_MODE, pbeKey, info.getAlgParameters());
      var spec = info.getKeySpec(c);
      return java.security.KeyFactory.getInstance("EC").generatePrivate(spec);
    } catch (java.security.GeneralSecurityException | RuntimeException e) {
      throw new WrongPassphraseException();
    }
  }

  /** Writes a plain PKCS#8 PEM key, 0600 (the admin's client key: the file is the credential). */
  public static void writePlain(Path file, PrivateKey key) throws IOException {
    writePrivate(file, Pem.encode(new JcaPKCS8Generator(key, null).generate()));
  }

  public static PrivateKey readPlain(Path file) throws IOException {
    try (PEMParser p = new PEMParser(new StringReader(Files.readString(file)))) {
      Object o = p.readObject();
      if (o instanceof PrivateKeyInfo info) return new JcaPEMKeyConverter().getPrivateKey(info);
      if (o instanceof org.bouncycastle.openssl.PEMKeyPair kp) return new JcaPEMKeyConverter().getPrivateKey(kp.getPrivateKeyInfo());
      throw new IOException("not a PEM private key: " + file.getFileName());
    }
  }

  /** Atomically replaces {@code file} with {@code content}, mode 0600, fsynced. */
  public static void writePrivate(Path file, String content) throws IOException {
    writeAtomically(file, content.getBytes(java.nio.charset.StandardCharsets.UTF_8), "rw-------");
  }

  public static void writeAtomically(Path file, byte[] content, String perms) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(perms)));
    try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(content));
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (var ch = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException ignored) {
      // some file systems cannot fsync a directory
    }
  }

  /** The passphrase did not decrypt the key (or the file was tampered with). */
  public static final class WrongPassphraseException extends IOException {
    public WrongPassphraseException() {
      super("the passphrase does not open this key");
    }
  }
}
