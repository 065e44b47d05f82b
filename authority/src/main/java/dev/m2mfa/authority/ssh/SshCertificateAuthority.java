package dev.m2mfa.authority.ssh;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.Map;
import org.apache.sshd.certificate.OpenSshCertificateBuilder;
import org.apache.sshd.common.config.keys.OpenSshCertificate;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.PublicKeyEntryResolver;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The authority's two OpenSSH CAs: one signs user certificates (hosts trust it with
 * {@code TrustedUserCAKeys}), the other host certificates (clients trust it with
 * {@code @cert-authority} in {@code known_hosts}). Two keys, so a host that trusts the user CA
 * cannot be tricked into taking a user certificate for a host, and the other way round.
 *
 * <p>Keys: Ed25519 by default, ECDSA P-256 with {@code ssh.ca_algorithm=ecdsa-p256}. Stored
 * beside the X.509 CA as {@code ca/ssh_user_ca.key} / {@code ca/ssh_host_ca.key}: encrypted
 * PKCS#8 (PBES2, the same {@link KeyFiles} encryption as the X.509 keys) under the operator
 * passphrase, mode 0600, plus the public line in {@code .pub}. Authority directories created
 * before the SSH CA existed get their keys the first time they are opened.
 *
 * <p>On open, each private key must sign a probe that its stored public key verifies, so a
 * swapped {@code .pub} file is caught at start rather than after hosts were configured with it.
 *
 * <p>Ed25519 keys live in BouncyCastle's key classes because Apache MINA SSHD (which builds
 * and encodes the certificates) reads Ed25519 keys through BouncyCastle and not the JDK's
 * {@code EdECPublicKey}. The BouncyCastle provider is passed per use, never registered.
 * Private keys never leave this class: callers get {@link #signUser}/{@link #signHost}.
 */
public final class SshCertificateAuthority {
  private static final Provider BC = new BouncyCastleProvider();
  static final String USER_CA = "ssh_user_ca";
  static final String HOST_CA = "ssh_host_ca";

  private final KeyPair user;
  private final KeyPair host;

  private SshCertificateAuthority(KeyPair user, KeyPair host) {
    this.user = user;
    this.host = host;
  }

  /** Opens both CA keys in {@code caDir}, creating any that is missing with {@code algorithm}. */
  public static SshCertificateAuthority openOrCreate(Path caDir, String algorithm, char[] passphrase) throws IOException {
    return new SshCertificateAuthority(openOrCreate(caDir, USER_CA, algorithm, passphrase),
        openOrCreate(caDir, HOST_CA, algorithm, passphrase));
  }

  private static KeyPair openOrCreate(Path caDir, String name, String algorithm, char[] passphrase) throws IOException {
    Path keyFile = caDir.resolve(name + ".key");
    Path pubFile = caDir.resolve(name + ".pub");
    if (!Files.exists(keyFile)) {
      KeyPair kp = generate(algorithm);
      KeyFiles.writeEncrypted(keyFile, kp.getPrivate(), passphrase);
      KeyFiles.writeAtomically(pubFile, (publicLine(kp.getPublic()) + " m2mfa " + name + "\n").getBytes(StandardCharsets.US_ASCII),
          "rw-r--r--");
      return kp;
    }
    PrivateKey priv = decrypt(Files.readString(keyFile), passphrase);
    PublicKey pub = parsePublic(Files.readString(pubFile).strip());
    if (!probe(priv, pub)) throw new IOException(pubFile.getFileName() + " does not belong to " + keyFile.getFileName());
    return new KeyPair(pub, priv);
  }

  static KeyPair generate(String algorithm) {
    try {
      if (SshConfig.ECDSA_P256.equals(algorithm)) return KeyFiles.newP256();
      return KeyPairGenerator.getInstance("Ed25519", BC).generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Like {@link KeyFiles#decryptPem} but for Ed25519 as well as EC keys (KeyFiles reads EC only). */
  private static PrivateKey decrypt(String pem, char[] passphrase) throws IOException {
    if (pem.length() > 16 * 1024) throw new IOException("key file too large");
    try {
      String b64 = pem.replace("-----BEGIN ENCRYPTED PRIVATE KEY-----", "").replace("-----END ENCRYPTED PRIVATE KEY-----", "");
      var info = new javax.crypto.EncryptedPrivateKeyInfo(Base64.getMimeDecoder().decode(b64));
      var pbeKey = javax.crypto.SecretKeyFactory.getInstance(info.getAlgName()).generateSecret(new javax.crypto.spec.PBEKeySpec(passphrase));
      javax.crypto.Cipher c = javax.crypto.Cipher.getInstance(info.getAlgName());
      c.init(javax.crypto.Cipher.DECRYPT_MODE, pbeKey, info.getAlgParameters());
      var spec = info.getKeySpec(c);
      String oid = PrivateKeyInfo.getInstance(spec.getEncoded()).getPrivateKeyAlgorithm().getAlgorithm().getId();
      return "1.3.101.112".equals(oid) ? KeyFactory.getInstance("Ed25519", BC).generatePrivate(spec)
          : KeyFactory.getInstance("EC").generatePrivate(spec);
    } catch (GeneralSecurityException | RuntimeException e) {
      throw new KeyFiles.WrongPassphraseException();
    }
  }

  private static boolean probe(PrivateKey priv, PublicKey pub) {
    try {
      boolean ed = "Ed25519".equalsIgnoreCase(priv.getAlgorithm()) || "EdDSA".equalsIgnoreCase(priv.getAlgorithm());
      Signature s = ed ? Signature.getInstance("Ed25519", BC) : Signature.getInstance("SHA256withECDSA");
      byte[] data = "m2mfa ssh ca probe".getBytes(StandardCharsets.US_ASCII);
      s.initSign(priv);
      s.update(data);
      byte[] sig = s.sign();
      Signature v = ed ? Signature.getInstance("Ed25519", BC) : Signature.getInstance("SHA256withECDSA");
      v.initVerify(pub);
      v.update(data);
      return v.verify(sig);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  /** {@code <type> <base64>} for a public key (no comment). */
  public static String publicLine(PublicKey key) {
    return PublicKeyEntry.toString(key);
  }

  static PublicKey parsePublic(String line) throws IOException {
    try {
      PublicKey k = PublicKeyEntry.parsePublicKeyEntry(line).resolvePublicKey(null, Map.of(), PublicKeyEntryResolver.FAILING);
      if (k == null) throw new IOException("not an OpenSSH public key");
      return k;
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException("not an OpenSSH public key");
    }
  }

  /** The user CA's public line, for {@code TrustedUserCAKeys}. */
  public String userCaLine() {
    return publicLine(user.getPublic());
  }

  /** The host CA's public line, for {@code @cert-authority * <line>} in {@code known_hosts}. */
  public String hostCaLine() {
    return publicLine(host.getPublic());
  }

  PublicKey userCaKey() {
    return user.getPublic();
  }

  PublicKey hostCaKey() {
    return host.getPublic();
  }

  /** Signs a user certificate; the grant comes from {@link SshGrantPolicy}. */
  public OpenSshCertificate signUser(PublicKey subject, long serial, String keyId, SshGrantPolicy.Grant grant) {
    return sign(OpenSshCertificateBuilder.userCertificate(), user, subject, serial, keyId, grant);
  }

  public OpenSshCertificate signHost(PublicKey subject, long serial, String keyId, SshGrantPolicy.Grant grant) {
    return sign(OpenSshCertificateBuilder.hostCertificate(), host, subject, serial, keyId, grant);
  }

  private static OpenSshCertificate sign(OpenSshCertificateBuilder b, KeyPair ca, PublicKey subject, long serial, String keyId,
      SshGrantPolicy.Grant grant) {
    try {
      return b.publicKey(subject).serial(serial).id(keyId).principals(grant.principals())
          .criticalOptions(grant.criticalOptions()).extensions(grant.extensions())
          .validAfter(grant.validAfter()).validBefore(grant.validBefore()).sign(ca);
    } catch (Exception e) {
      throw new IllegalStateException("SSH certificate signing failed", e);
    }
  }

  @Override
  public String toString() {
    return "SshCertificateAuthority[user=" + userCaLine() + ", host=" + hostCaLine() + "]";
  }
}
