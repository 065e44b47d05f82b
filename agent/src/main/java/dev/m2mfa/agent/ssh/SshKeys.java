package dev.m2mfa.agent.ssh;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.config.keys.writer.openssh.OpenSSHKeyPairResourceWriter;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/**
 * The machine's dedicated SSH key and its certificate files, in OpenSSH's own layout:
 * {@code <key>} (OpenSSH private key format, 0600), {@code <key>.pub} and
 * {@code <key>-cert.pub} (0644), each written atomically. The key is Ed25519 and separate from
 * the identity key, which never leaves its provider.
 */
public final class SshKeys {
  private SshKeys() {}

  /** Generates an Ed25519 key at {@code keyFile} unless one is there; returns the public line. */
  public static String ensureEd25519(Path keyFile, String comment) throws IOException {
    if (Files.exists(keyFile)) return publicLine(keyFile);
    KeyPair kp;
    try {
      kp = KeyPairGenerator.getInstance("Ed25519", new BouncyCastleProvider()).generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot generate an Ed25519 key", e);
    }
    ByteArrayOutputStream priv = new ByteArrayOutputStream();
    try {
      OpenSSHKeyPairResourceWriter.INSTANCE.writePrivateKey(kp, comment, null, priv);
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot encode the SSH key", e);
    }
    String pub = PublicKeyEntry.toString(kp.getPublic());
    KeyFiles.writeAtomically(keyFile, priv.toByteArray(), "rw-------");
    KeyFiles.writeAtomically(publicFile(keyFile), (pub + " " + comment + "\n").getBytes(StandardCharsets.US_ASCII), "rw-r--r--");
    return pub;
  }

  /** The public key line beside {@code keyFile} ({@code <key>.pub}), at most 8 KiB. */
  public static String publicLine(Path keyFile) throws IOException {
    Path pub = publicFile(keyFile);
    if (Files.size(pub) > 8 * 1024) throw new IOException(pub.getFileName() + " is too large for a public key");
    return Files.readString(pub).strip();
  }

  /** Writes {@code <key>-cert.pub}. */
  public static Path writeCertificate(Path keyFile, String certificateLine) throws IOException {
    Path cert = certificateFile(keyFile);
    KeyFiles.writeAtomically(cert, (certificateLine + "\n").getBytes(StandardCharsets.US_ASCII), "rw-r--r--");
    return cert;
  }

  public static Path publicFile(Path keyFile) {
    return keyFile.resolveSibling(keyFile.getFileName() + ".pub");
  }

  public static Path certificateFile(Path keyFile) {
    String name = keyFile.getFileName().toString();
    if (name.endsWith(".pub")) name = name.substring(0, name.length() - 4);
    return keyFile.resolveSibling(name + "-cert.pub");
  }
}
