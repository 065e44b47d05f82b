package dev.m2mfa.agent.keys;

import dev.m2mfa.api.pki.KeyFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Provider {@code sealed}: a software key kept encrypted at rest in {@code identity.sealed}
 * ({@link SealedKeyFile}: Argon2id, AES-256-GCM, authenticated header) that opens locked. An
 * operator unlocks it with the passphrase or k of n shares ({@link SealedKey}); an optional
 * {@code KeyEncryptionKeySource} (TPM auto-unseal) can unlock it unattended.
 *
 * <p>Options ({@code key.<option>}): {@code relock_after} (e.g. {@code 8h}, {@code 30m},
 * {@code 3600s}; default never), {@code argon2_memory_kib} (default 65536),
 * {@code argon2_iterations} (3), {@code argon2_parallelism} (1), {@code auto_unseal} (name
 * of a {@link KeyEncryptionKeySource}).
 *
 * <p>What it defeats: a powered-off image, a stolen disk or backup, a copied state
 * directory: the file alone gives nothing without the passphrase or k shares (Argon2id
 * makes each guess cost 64 MiB and ~0.2 s). What it does not: an attacker on the running,
 * unlocked machine reads the key from process memory, as with {@code software}.
 */
public final class SealedKeyProvider implements KeyProvider {
  public static final String FILE = "identity.sealed";

  @Override
  public String name() {
    return "sealed";
  }

  @Override
  public MachineSigner generate(KeyContext context) throws IOException {
    Path file = context.stateDir().resolve(FILE);
    if (Files.exists(file)) throw new KeyExistsException("a sealed identity key already exists at " + FILE);
    KeyPair kp = KeyFiles.newP256();
    char[] pass = context.secrets().read("sealed key passphrase");
    byte[] secret = utf8(pass);
    Arrays.fill(pass, '\0');
    byte[] pkcs8 = kp.getPrivate().getEncoded();
    try {
      SealedKeyFile f = SealedKeyFile.seal(pkcs8, kp.getPublic().getEncoded(), secret, SealedKeyFile.KIND_PASSPHRASE, 0, 0, kdf(context),
          SealedKeyFile.newSalt());
      SealedKey key = handle(context, f); // bad options refused before anything is written
      KeyFiles.writeAtomically(file, f.encode(), "rw-------");
      key.startUnlocked(new SoftwareKey(kp.getPrivate(), kp.getPublic()), secret); // just generated: no second derivation
      return key;
    } finally {
      Arrays.fill(pkcs8, (byte) 0);
      Arrays.fill(secret, (byte) 0);
    }
  }

  @Override
  public void discard(KeyContext context) throws IOException {
    Files.deleteIfExists(context.stateDir().resolve(FILE));
  }

  @Override
  public MachineSigner open(KeyContext context) throws IOException {
    Path file = context.stateDir().resolve(FILE);
    if (!Files.exists(file)) throw new java.nio.file.NoSuchFileException(file.toString());
    if (Files.size(file) > SealedKeyFile.MAX_FILE) throw new IOException("not a sealed key file (too large)");
    SealedKey key = handle(context, SealedKeyFile.decode(Files.readAllBytes(file)));
    key.tryAutoUnseal();
    return key;
  }

  /** How the key in {@code stateDir} is sealed: 0 for a passphrase, else k of its k-of-n shares. */
  public static int sharesNeeded(Path stateDir) throws IOException {
    Path file = stateDir.resolve(FILE);
    if (Files.size(file) > SealedKeyFile.MAX_FILE) throw new IOException("not a sealed key file (too large)");
    SealedKeyFile f = SealedKeyFile.decode(Files.readAllBytes(file));
    return f.secretKind() == SealedKeyFile.KIND_SHARES ? f.threshold() : 0;
  }

  /**
   * Re-seals an unlocked key to k of n fresh shares (replacing the file atomically) and
   * returns them, each once; any auto-unseal copy of the old secret is forgotten.
   */
  public static List<String> resealToShares(SealedKey key, KeyContext context, int threshold, int count) throws IOException {
    byte[] salt = SealedKeyFile.newSalt();
    KeyShares.Split split = KeyShares.split(threshold, count, KeyShares.sealId(salt));
    try {
      write(key, context, split.secret(), SealedKeyFile.KIND_SHARES, threshold, count, salt);
      return split.shares();
    } finally {
      Arrays.fill(split.secret(), (byte) 0);
    }
  }

  /** Re-seals an unlocked key to a new operator passphrase. */
  public static void resealToPassphrase(SealedKey key, KeyContext context, char[] passphrase) throws IOException {
    byte[] secret = utf8(passphrase);
    try {
      write(key, context, secret, SealedKeyFile.KIND_PASSPHRASE, 0, 0, SealedKeyFile.newSalt());
    } finally {
      Arrays.fill(secret, (byte) 0);
    }
  }

  private static void write(SealedKey key, KeyContext context, byte[] secret, int kind, int k, int n, byte[] salt) throws IOException {
    byte[] pkcs8 = key.unlockedKey().encodedForSealing();
    try {
      SealedKeyFile f = SealedKeyFile.seal(pkcs8, key.publicKey().getEncoded(), secret, kind, k, n, kdf(context), salt);
      KeyFiles.writeAtomically(context.stateDir().resolve(FILE), f.encode(), "rw-------");
    } finally {
      Arrays.fill(pkcs8, (byte) 0);
    }
    KeyEncryptionKeySource source = autoSource(context);
    if (source != null) source.forget(context.stateDir());
  }

  private static SealedKey handle(KeyContext context, SealedKeyFile f) {
    return new SealedKey(context.stateDir(), f, context.clock(), relockAfter(context.options().get("relock_after")), autoSource(context));
  }

  static SealedKeyFile.KdfParameters kdf(KeyContext c) {
    var d = SealedKeyFile.KdfParameters.DEFAULT;
    try {
      return new SealedKeyFile.KdfParameters(Integer.parseInt(c.option("argon2_memory_kib", "" + d.memoryKib())),
          Integer.parseInt(c.option("argon2_iterations", "" + d.iterations())), Integer.parseInt(c.option("argon2_parallelism", "" + d.parallelism())));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("key.argon2_* options must be numbers");
    }
  }

  private static KeyEncryptionKeySource autoSource(KeyContext c) {
    String name = c.options().get("auto_unseal");
    if (name == null || name.isBlank() || name.equals("none")) return null;
    for (KeyEncryptionKeySource s : ServiceLoader.load(KeyEncryptionKeySource.class)) if (s.name().equals(name)) return s.withOptions(c.options());
    throw new IllegalArgumentException("key.auto_unseal names an unknown source: " + name);
  }

  /** {@code 8h}, {@code 30m}, {@code 90s}, plain seconds, or ISO-8601 ({@code PT8H}); null or {@code never} for none. */
  static Duration relockAfter(String s) {
    if (s == null || s.isBlank() || s.equals("never")) return null;
    String v = s.strip();
    Duration d;
    try {
      if (v.startsWith("P") || v.startsWith("p")) d = Duration.parse(v);
      else if (v.endsWith("h")) d = Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
      else if (v.endsWith("m")) d = Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
      else if (v.endsWith("s")) d = Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
      else d = Duration.ofSeconds(Long.parseLong(v));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("key.relock_after must look like 8h, 30m, 3600s or PT8H");
    }
    if (d.toSeconds() < 1) throw new IllegalArgumentException("key.relock_after must be at least 1 s");
    return d;
  }

  static byte[] utf8(char[] chars) {
    ByteBuffer bb = StandardCharsets.UTF_8.encode(CharBuffer.wrap(chars));
    byte[] out = new byte[bb.remaining()];
    bb.get(out);
    Arrays.fill(bb.array(), (byte) 0);
    return out;
  }
}
