package dev.m2mfa.agent.keys;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Date;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Provider {@code pkcs11}: the key is generated inside a PKCS#11 token (an HSM, a smart card,
 * SoftHSM2 in tests) through the JDK's SunPKCS11, with {@code CKA_TOKEN=true},
 * {@code CKA_SENSITIVE=true}, {@code CKA_EXTRACTABLE=false}: the token signs, nothing reads it.
 *
 * <p>Options ({@code key.<option>} in agent.conf): {@code library} (absolute path of the
 * module, required); {@code slot} (slot id) or {@code slot_list_index} (default 0);
 * {@code key_label} (default {@code m2mfa-identity}); the user PIN from {@code pin_file} (a
 * file, 0600) or {@code pin_env} (an environment variable), else from the agent's secret
 * source (prompt). Never from argv. SunPKCS11's configuration has no token-label selector,
 * so the token is chosen by slot.
 *
 * <p>Storage: SunPKCS11's key store lists a private key only with a certificate, so after
 * generation the key is stored with a self-signed placeholder certificate (signed by the
 * token) under {@code key_label}. The certificate carries the public key; the authority never
 * sees it. A copy of the agent's directory holds the configuration, not the key: on another
 * machine the token has no such object and {@link #open} fails.
 *
 * <p>What this cannot prove to the authority: that the key really is in hardware. A PKCS#11
 * module reports what it likes; SoftHSM2 is software. See docs/factors/hardware.md.
 */
public final class Pkcs11KeyProvider implements KeyProvider {
  public static final String DEFAULT_LABEL = "m2mfa-identity";
  private static final Map<String, Provider> PROVIDERS = new ConcurrentHashMap<>();

  @Override
  public String name() {
    return "pkcs11";
  }

  @Override
  public MachineSigner generate(KeyContext context) throws IOException {
    Provider p = provider(context);
    KeyStore ks = login(p, context);
    String label = label(context);
    try {
      if (ks.containsAlias(label)) throw new KeyExistsException("the token already holds a key labelled " + label);
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair kp = g.generateKeyPair();
      long now = System.currentTimeMillis();
      X500Name subject = new X500Name("CN=" + label);
      var builder = new JcaX509v3CertificateBuilder(subject, BigInteger.valueOf(now), new Date(now - 60_000),
          new Date(now + 100L * 365 * 24 * 3600 * 1000), subject, kp.getPublic());
      X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
          builder.build(new JcaContentSignerBuilder("SHA256withECDSA").setProvider(p).build(kp.getPrivate())));
      ks.setKeyEntry(label, kp.getPrivate(), null, new Certificate[] {cert});
      return open(p, ks, label);
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("the PKCS#11 token could not generate the key: " + e.getMessage(), e);
    }
  }

  @Override
  public MachineSigner open(KeyContext context) throws IOException {
    Provider p = provider(context);
    return open(p, login(p, context), label(context));
  }

  @Override
  public void discard(KeyContext context) throws IOException {
    Provider p = provider(context);
    KeyStore ks = login(p, context);
    try {
      if (ks.containsAlias(label(context))) ks.deleteEntry(label(context));
    } catch (java.security.KeyStoreException e) {
      throw new IOException("the PKCS#11 token refused to delete the key", e);
    }
  }

  private static MachineSigner open(Provider p, KeyStore ks, String label) throws IOException {
    try {
      if (!ks.isKeyEntry(label)) {
        throw new IOException("the PKCS#11 token holds no key labelled " + label + " (wrong token, or the agent's files were copied from another machine)");
      }
      PrivateKey key = (PrivateKey) ks.getKey(label, null);
      Certificate cert = ks.getCertificate(label);
      return new Pkcs11Key(p, key, cert.getPublicKey());
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException("the PKCS#11 key cannot be opened: " + e.getMessage(), e);
    }
  }

  private static String label(KeyContext context) {
    String label = context.option("key_label", DEFAULT_LABEL);
    if (!label.matches("[A-Za-z0-9._-]{1,64}")) throw new IllegalArgumentException("key.key_label must be 1-64 characters of A-Z a-z 0-9 . _ -");
    return label;
  }

  private static KeyStore login(Provider p, KeyContext context) throws IOException {
    char[] pin = pin(context);
    try {
      KeyStore ks = KeyStore.getInstance("PKCS11", p);
      ks.load(null, pin);
      return ks;
    } catch (Exception e) {
      throw new IOException("PKCS#11 login failed (wrong PIN, or the token is not initialized)", e);
    } finally {
      Arrays.fill(pin, '\0');
    }
  }

  private static char[] pin(KeyContext context) throws IOException {
    String file = context.options().get("pin_file");
    if (file != null) {
      Path f = Path.of(file);
      if (Files.size(f) > 256) throw new IOException("key.pin_file is too large to be a PIN");
      byte[] raw = Files.readAllBytes(f);
      try {
        String s = new String(raw, StandardCharsets.UTF_8).strip();
        if (s.isEmpty()) throw new IOException("key.pin_file is empty");
        return s.toCharArray();
      } finally {
        Arrays.fill(raw, (byte) 0);
      }
    }
    String env = context.options().get("pin_env");
    if (env != null) {
      String v = System.getenv(env);
      if (v == null || v.isEmpty()) throw new IOException("key.pin_env names " + env + ", which is not set");
      return v.toCharArray();
    }
    return context.secrets().read("PKCS#11 user PIN");
  }

  /** One SunPKCS11 instance per (library, slot), installed so JSSE's delayed provider selection finds it for TLS. */
  static Provider provider(KeyContext context) {
    String library = context.options().get("library");
    if (library == null) throw new IllegalArgumentException("key.library (the PKCS#11 module's absolute path) is required for key_provider=pkcs11");
    if (!library.startsWith("/") || !library.matches("[A-Za-z0-9/._+-]{1,400}")) {
      throw new IllegalArgumentException("key.library must be an absolute path of plain characters");
    }
    if (!Files.isRegularFile(Path.of(library))) throw new IllegalArgumentException("key.library: no PKCS#11 module at " + library);
    String slot = context.options().get("slot");
    String index = context.option("slot_list_index", "0");
    if (slot != null && !slot.matches("[0-9]{1,10}")) throw new IllegalArgumentException("key.slot must be a slot id (digits)");
    if (!index.matches("[0-9]{1,3}")) throw new IllegalArgumentException("key.slot_list_index must be a small number");
    String selector = slot != null ? "slot = " + slot : "slotListIndex = " + index;
    String id = library + "|" + selector;
    return PROVIDERS.computeIfAbsent(id, k -> {
      String name = "m2mfa-" + HexFormat.of().formatHex(sha256(k), 0, 6);
      String cfg = "--name = " + name + "\n"
          + "library = " + library + "\n"
          + selector + "\n"
          + "attributes(generate, CKO_PRIVATE_KEY, CKK_EC) = {\n"
          + "  CKA_TOKEN = true\n  CKA_SENSITIVE = true\n  CKA_EXTRACTABLE = false\n  CKA_SIGN = true\n  CKA_PRIVATE = true\n}\n"
          + "attributes(generate, CKO_PUBLIC_KEY, CKK_EC) = {\n  CKA_TOKEN = true\n  CKA_VERIFY = true\n}\n";
      Provider p = Security.getProvider("SunPKCS11").configure(cfg);
      Security.addProvider(p);
      return p;
    });
  }

  private static byte[] sha256(String s) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
