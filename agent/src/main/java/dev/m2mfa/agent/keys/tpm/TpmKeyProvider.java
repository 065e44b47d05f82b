package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.api.tpm.TpmPublic;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.Arrays;

/**
 * The machine's login key inside a TPM 2.0: ECC P-256, ECDSA/SHA-256, created by the TPM
 * under the owner hierarchy's storage key with fixedTPM, fixedParent, sensitiveDataOrigin and
 * sign (not restricted, so it signs arbitrary digests). The private part never exists outside
 * the TPM in clear: the TPM hands out only a blob encrypted under its own storage key.
 *
 * <p>State: the key is made persistent at {@link #DEFAULT_HANDLE} (configurable), and its
 * public area and encrypted private blob are kept in the agent's state directory
 * ({@code tpm-login.pub}, {@code tpm-login.priv}) so the key can be re-loaded under the
 * same TPM's storage key if the persistent handle is evicted. Copied to another machine,
 * these files are useless: the other TPM has neither the handle nor the storage seed that
 * decrypts the blob, and {@link #open} says so.
 *
 * <p>Signing runs {@code tpm2_sign} once over SHA-256(data) computed here; the TPM returns
 * a DER ECDSA signature ({@code -f plain}) that the JDK verifies. Every signature is checked
 * against the public key before it is returned (a wrong key at the handle would otherwise
 * only show at the authority).
 */
public final class TpmKeyProvider implements MachineSigner {
  /** Default persistent handle for the login key (owner range, 0x81000000-0x8100FFFF). */
  public static final int DEFAULT_HANDLE = 0x81000201;
  static final String PUBLIC_FILE = "tpm-login.pub";
  static final String PRIVATE_FILE = "tpm-login.priv";
  private static final String SRK_ATTRIBUTES = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt";
  private static final String KEY_ATTRIBUTES = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";

  private final TpmTools tpm;
  private final int handle;
  private final TpmPublic tpmPublic;
  private final PublicKey publicKey;

  private TpmKeyProvider(TpmTools tpm, int handle, TpmPublic tpmPublic) {
    this.tpm = tpm;
    this.handle = handle;
    this.tpmPublic = tpmPublic;
    this.publicKey = tpmPublic.publicKey();
  }

  /** Creates a new login key in the TPM, persists it at {@code handle}, and writes its blobs to {@code dir}. */
  public static TpmKeyProvider create(TpmTools tpm, Path dir, int handle) throws IOException {
    checkHandle(handle);
    Files.createDirectories(dir);
    if (Files.exists(dir.resolve(PUBLIC_FILE))) throw new IOException("a TPM login key already exists in " + dir);
    TpmPublic pub = tpm.exclusive(work -> {
      if (tpm.handles("handles-persistent").contains(handle)) {
        throw new TpmException("the persistent handle " + TpmTools.handle(handle) + " is already in use");
      }
      Path srk = createStorageKey(tpm, work);
      Path pubFile = work.resolve("key.pub");
      Path privFile = work.resolve("key.priv");
      tpm.runOk("creating the login key", "tpm2_create", "-C", srk.toString(), "-G", "ecc256:ecdsa-sha256", "-g", "sha256",
          "-a", KEY_ATTRIBUTES, "-u", pubFile.toString(), "-r", privFile.toString());
      tpm.flushTransients();
      byte[] pubBytes = Files.readAllBytes(pubFile);
      byte[] privBytes = Files.readAllBytes(privFile);
      persist(tpm, work, srk, pubFile, privFile, handle);
      dev.m2mfa.api.pki.KeyFiles.writeAtomically(dir.resolve(PUBLIC_FILE), pubBytes, "rw-------");
      dev.m2mfa.api.pki.KeyFiles.writeAtomically(dir.resolve(PRIVATE_FILE), privBytes, "rw-------");
      return TpmPublic.parse2b(pubBytes);
    });
    return new TpmKeyProvider(tpm, handle, pub);
  }

  /**
   * Opens the login key recorded in {@code dir}: uses the persistent handle when it holds
   * exactly that key, re-loads the blobs under this TPM's storage key when the handle is
   * empty, and refuses otherwise.
   */
  public static TpmKeyProvider open(TpmTools tpm, Path dir, int handle) throws IOException {
    checkHandle(handle);
    byte[] pubBytes = Files.readAllBytes(dir.resolve(PUBLIC_FILE));
    TpmPublic pub = TpmPublic.parse2b(pubBytes);
    tpm.exclusive(work -> {
      Path current = work.resolve("current.pub");
      TpmTools.Output o = tpm.run(null, "tpm2_readpublic", "-c", TpmTools.handle(handle), "-f", "tss", "-o", current.toString());
      if (o.exitCode() == 0) {
        if (!Arrays.equals(Files.readAllBytes(current), pubBytes)) {
          throw new TpmException("the TPM's persistent handle " + TpmTools.handle(handle) + " holds a different key than " + dir.resolve(PUBLIC_FILE));
        }
        return null;
      }
      Path srk = createStorageKey(tpm, work);
      Path pubFile = work.resolve("key.pub");
      Path privFile = work.resolve("key.priv");
      Files.write(pubFile, pubBytes);
      Files.copy(dir.resolve(PRIVATE_FILE), privFile);
      try {
        persist(tpm, work, srk, pubFile, privFile, handle);
      } catch (TpmException e) {
        throw new TpmException("this TPM cannot load the login key in " + dir
            + " (the key blobs belong to another TPM or another storage key): " + e.getMessage());
      }
      return null;
    });
    return new TpmKeyProvider(tpm, handle, pub);
  }

  /** Deletes the login key from the TPM (evicts the persistent handle) and its files. */
  public static void destroy(TpmTools tpm, Path dir, int handle) throws IOException {
    checkHandle(handle);
    tpm.exclusive(work -> {
      if (tpm.handles("handles-persistent").contains(handle)) {
        tpm.runOk("evicting the login key", "tpm2_evictcontrol", "-C", "o", "-c", TpmTools.handle(handle));
      }
      return null;
    });
    Files.deleteIfExists(dir.resolve(PUBLIC_FILE));
    Files.deleteIfExists(dir.resolve(PRIVATE_FILE));
  }

  /** The owner-hierarchy storage key (ECC P-256, AES-128-CFB): the same key every time for one TPM. */
  static Path createStorageKey(TpmTools tpm, Path work) throws IOException {
    Path srk = work.resolve("srk.ctx");
    tpm.runOk("creating the storage key", "tpm2_createprimary", "-C", "o", "-G", "ecc256:aes128cfb", "-g", "sha256",
        "-a", SRK_ATTRIBUTES, "-c", srk.toString());
    tpm.flushTransients();
    return srk;
  }

  private static void persist(TpmTools tpm, Path work, Path srk, Path pubFile, Path privFile, int handle) throws IOException {
    Path ctx = work.resolve("key.ctx");
    tpm.runOk("loading the login key", "tpm2_load", "-C", srk.toString(), "-u", pubFile.toString(), "-r", privFile.toString(),
        "-c", ctx.toString());
    tpm.flushTransients();
    tpm.runOk("persisting the login key", "tpm2_evictcontrol", "-C", "o", "-c", ctx.toString(), TpmTools.handle(handle));
  }

  private static void checkHandle(int handle) {
    if (Integer.compareUnsigned(handle, 0x81000000) < 0 || Integer.compareUnsigned(handle, 0x8100FFFF) > 0) {
      throw new IllegalArgumentException("the login key handle must be in the owner persistent range 0x81000000-0x8100FFFF");
    }
  }

  @Override
  public byte[] sign(byte[] data) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(data);
      byte[] signature = tpm.exclusiveNoFlush(work -> {
        Path in = work.resolve("digest");
        Path out = work.resolve("sig");
        Files.write(in, digest);
        tpm.runOk("TPM signing", "tpm2_sign", "-c", TpmTools.handle(handle), "-g", "sha256", "-s", "ecdsa", "-d", "-f", "plain",
            "-o", out.toString(), in.toString());
        return TpmTools.take(out, 80);
      });
      java.security.Signature v = java.security.Signature.getInstance("SHA256withECDSA");
      v.initVerify(publicKey);
      v.update(data);
      if (!v.verify(signature)) throw new IllegalStateException("the TPM key at " + TpmTools.handle(handle) + " is not the enrolled login key");
      return signature;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("TPM signature check failed", e);
    }
  }

  @Override
  public PublicKey publicKey() {
    return publicKey;
  }

  @Override
  public String provider() {
    return "tpm";
  }

  /** The key's TPM public area ({@code TPMT_PUBLIC}): what the AK certifies and the authority checks. */
  public TpmPublic tpmPublic() {
    return tpmPublic;
  }

  public int handle() {
    return handle;
  }

  TpmTools tools() {
    return tpm;
  }

  @Override
  public String toString() {
    return "TpmKeyProvider[P-256 at " + TpmTools.handle(handle) + ", " + tpm + ", non-exportable]";
  }
}
