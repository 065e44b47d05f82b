package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every {@link KeyProvider} passes. A subclass supplies the provider, a context
 * (options and secrets) for a state directory, and how to make an opened handle usable (a
 * sealed key needs an operator unlock). The TPM provider adds its own subclass.
 */
abstract class KeyProviderContract {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  abstract KeyProvider provider();

  /** The context for {@code stateDir}: the same options and secrets each time (as after a restart). */
  abstract KeyContext context(Path stateDir) throws Exception;

  /** Secrets the context hands out, which no toString may show. */
  abstract List<String> secretsInContext();

  /** Makes a freshly opened handle able to sign (e.g. an operator unlock); most providers need nothing. */
  MachineSigner usable(MachineSigner opened) throws Exception {
    return opened;
  }

  /** True when no private key bytes may be reachable from the handle (token and TPM keys, a locked sealed key). */
  abstract boolean keyBytesStayInProvider();

  static boolean verifies(MachineSigner k, byte[] data, byte[] sig) throws Exception {
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(k.publicKey());
    v.update(data);
    return v.verify(sig);
  }

  @Test
  void signaturesAreEs256DerAndVerifyUnderThePublicKey() throws Exception {
    MachineSigner k = provider().generate(context(dir));
    assertThat(k.provider()).isEqualTo(provider().name());
    assertThat(((ECPublicKey) k.publicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    byte[] data = "login transcript".getBytes(StandardCharsets.UTF_8);
    byte[] sig = k.sign(data);
    assertThat(sig[0]).as("DER SEQUENCE").isEqualTo((byte) 0x30);
    assertThat(verifies(k, data, sig)).isTrue();
    assertThat(verifies(k, "another transcript".getBytes(StandardCharsets.UTF_8), sig)).isFalse();
  }

  @Test
  void differentDataGiveDifferentSignatures() throws Exception {
    MachineSigner k = provider().generate(context(dir));
    byte[] a = k.sign(new byte[] {1});
    byte[] b = k.sign(new byte[] {2});
    assertThat(a).isNotEqualTo(b);
    assertThat(verifies(k, new byte[] {1}, b)).isFalse();
  }

  @Test
  void reopenedAfterRestartGivesTheSameKey() throws Exception {
    MachineSigner first = provider().generate(context(dir));
    MachineSigner again = usable(provider().open(context(dir)));
    assertThat(again.publicKey().getEncoded()).isEqualTo(first.publicKey().getEncoded());
    byte[] data = "after restart".getBytes(StandardCharsets.UTF_8);
    assertThat(verifies(first, data, again.sign(data))).isTrue();
  }

  @Test
  void aSecondGenerateRefusesToOverwrite() throws Exception {
    MachineSigner first = provider().generate(context(dir));
    assertThatThrownBy(() -> provider().generate(context(dir))).isInstanceOf(KeyProvider.KeyExistsException.class);
    assertThat(usable(provider().open(context(dir))).publicKey().getEncoded()).isEqualTo(first.publicKey().getEncoded());
  }

  @Test
  void toStringNamesNoSecret() throws Exception {
    MachineSigner k = provider().generate(context(dir));
    String s = k.toString();
    assertThat(s).hasSizeLessThan(120);
    for (String secret : secretsInContext()) assertThat(s).doesNotContain(secret);
    for (PrivateKey pk : privateKeysReachableFrom(k)) {
      byte[] enc = pk.getEncoded();
      if (enc == null) continue;
      assertThat(s).doesNotContain(HexFormat.of().formatHex(enc)).doesNotContain(Base64.getEncoder().encodeToString(enc));
      if (pk instanceof java.security.interfaces.ECPrivateKey ec) assertThat(s).doesNotContain(ec.getS().toString()).doesNotContain(ec.getS().toString(16));
    }
    assertThat(JSON.writeValueAsString(k.enrollmentEvidence())).startsWith("{");
  }

  @Test
  void noPrivateKeyBytesAreReachableFromTheHandle() throws Exception {
    if (!keyBytesStayInProvider()) return; // software: the key is in this process by design
    MachineSigner k = usable(provider().open(contextAfterGenerate()));
    k.tlsKey().ifPresent(t -> assertThat(t.getEncoded()).as("a TLS key object without bytes").isNull());
    for (PrivateKey pk : privateKeysReachableFrom(k)) assertThat(pk.getEncoded()).as("private key reachable from " + k).isNull();
  }

  private KeyContext contextAfterGenerate() throws Exception {
    provider().generate(context(dir));
    return context(dir);
  }

  @Test
  void theRegistryFindsTheProviderByName() throws Exception {
    assertThat(KeyProviders.byName(provider().name())).isInstanceOf(provider().getClass());
  }

  /** Private keys held by the handle's own object graph (m2mfa classes are walked, others only checked). */
  static List<PrivateKey> privateKeysReachableFrom(Object root) throws IllegalAccessException {
    List<PrivateKey> found = new ArrayList<>();
    walk(root, found, new IdentityHashMap<>(), 0);
    return found;
  }

  private static void walk(Object o, List<PrivateKey> found, Map<Object, Boolean> seen, int depth) throws IllegalAccessException {
    if (o == null || depth > 6 || seen.put(o, true) != null) return;
    if (o instanceof PrivateKey pk) {
      found.add(pk);
      return;
    }
    if (o instanceof Iterable<?> it) {
      for (Object e : it) walk(e, found, seen, depth + 1);
      return;
    }
    if (!o.getClass().getName().startsWith("dev.m2mfa.")) return;
    for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) continue;
        f.setAccessible(true);
        walk(f.get(o), found, seen, depth + 1);
      }
    }
  }
}
