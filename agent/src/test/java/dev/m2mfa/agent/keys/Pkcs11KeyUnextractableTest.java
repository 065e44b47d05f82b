package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.testkit.SoftHsm;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A key the pkcs11 provider generates cannot be exported: no bytes, no key spec, and the
 * token reports it sensitive and unextractable (SunPKCS11 reads CKA_SENSITIVE and
 * CKA_EXTRACTABLE from the token to describe the key). SunPKCS11 offers no wrap mechanism for
 * a private key on SoftHSM2 (no AES key wrap; its RSA wrap takes secret keys only), so the
 * C_WrapKey refusal itself is not exercised here. A copy of the agent's files opened against
 * another token finds no key.
 */
class Pkcs11KeyUnextractableTest {
  @TempDir Path dir;

  KeyContext context(String token, String label) throws Exception {
    Map<String, String> o = new LinkedHashMap<>(SoftHsm.keyOptions(token, dir.resolve("pins")));
    o.put("key_label", label);
    return KeyContext.of(dir, o, KeyContext.Secrets.none());
  }

  @Test
  void theTokenKeyHasNoEncodingNoKeySpecAndRefusesToBeWrapped() throws Exception {
    KeyContext ctx = context("m2mfa-b", "unextractable-" + ProcessHandle.current().pid());
    MachineSigner k = new Pkcs11KeyProvider().generate(ctx);
    PrivateKey token = k.tlsKey().orElseThrow();
    Provider p = Pkcs11KeyProvider.provider(ctx);

    assertThat(token.getEncoded()).as("no encoding for a sensitive key").isNull();
    // SunPKCS11 reads CKA_TOKEN, CKA_SENSITIVE and CKA_EXTRACTABLE from the token for its description
    assertThat(token.toString()).contains("token object").contains("sensitive").contains("unextractable");
    assertThatThrownBy(() -> KeyFactory.getInstance("EC", p).getKeySpec(token, ECPrivateKeySpec.class)).isInstanceOf(Exception.class);
    assertThatThrownBy(() -> KeyFactory.getInstance("EC", p).getKeySpec(token, PKCS8EncodedKeySpec.class)).isInstanceOf(Exception.class);

    // at the key store level: the entry the token gives back carries no key bytes either
    java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS11", p);
    ks.load(null, SoftHsm.USER_PIN.toCharArray());
    var entry = (java.security.KeyStore.PrivateKeyEntry) ks.getEntry(ctx.options().get("key_label"), null);
    assertThat(entry.getPrivateKey().getEncoded()).isNull();
    assertThat(entry.getPrivateKey().toString()).contains("unextractable");
  }

  @Test
  void aCopyOfTheAgentFilesAgainstAnotherTokenHasNoKey() throws Exception {
    String label = "copied-" + ProcessHandle.current().pid();
    new Pkcs11KeyProvider().generate(context("m2mfa-c", label));
    assertThatThrownBy(() -> new Pkcs11KeyProvider().open(context("m2mfa-empty", label)))
        .hasMessageContaining("holds no key labelled " + label);
  }
}
