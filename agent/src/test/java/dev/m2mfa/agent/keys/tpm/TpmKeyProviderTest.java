package dev.m2mfa.agent.keys.tpm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.m2mfa.api.tpm.TpmPublic;
import dev.m2mfa.testkit.Swtpm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TPM login key on swtpm: JDK-verifiable ECDSA P-256 signatures, the attributes that make
 * it non-exportable, re-loading after eviction, refusal on another TPM, and no transient
 * handle left behind by any operation.
 */
class TpmKeyProviderTest {
  @TempDir static Path tmp;
  static Swtpm swtpm;
  static Swtpm other;
  static TpmTools tpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start(tmp.resolve("tpm"), tmp.resolve("ca"));
    other = Swtpm.start(tmp.resolve("other"), tmp.resolve("ca"));
    tpm = TpmTools.of(swtpm.tcti());
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) swtpm.close();
    if (other != null) other.close();
  }

  @Test
  void signaturesVerifyWithTheJdkAndTheKeyIsNonExportable() throws Exception {
    TpmKeyProvider key = TpmKeyProvider.create(tpm, tmp.resolve("k1"), 0x81000401);
    assertEquals("tpm", key.provider());
    assertEquals(256, ((ECPublicKey) key.publicKey()).getParams().getCurve().getField().getFieldSize());
    TpmPublic pub = key.tpmPublic();
    assertTrue(pub.has(TpmPublic.FIXED_TPM | TpmPublic.FIXED_PARENT | TpmPublic.SENSITIVE_DATA_ORIGIN | TpmPublic.SIGN));
    assertTrue(!pub.has(TpmPublic.RESTRICTED) && !pub.has(TpmPublic.DECRYPT));
    for (String msg : new String[] {"", "hello", "x".repeat(100_000)}) {
      byte[] data = msg.getBytes(StandardCharsets.UTF_8);
      byte[] sig = key.sign(data);
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(key.publicKey());
      v.update(data);
      assertTrue(v.verify(sig));
      v.initVerify(key.publicKey());
      v.update((msg + "!").getBytes(StandardCharsets.UTF_8));
      assertTrue(!v.verify(sig));
    }
    assertTrue(!key.toString().contains("priv"));
  }

  @Test
  void reloadsFromItsBlobsAfterEvictionOnTheSameTpm() throws Exception {
    Path dir = tmp.resolve("k2");
    TpmKeyProvider key = TpmKeyProvider.create(tpm, dir, 0x81000402);
    swtpm.toolOk("tpm2_evictcontrol", "-C", "o", "-c", "0x81000402");
    TpmKeyProvider reopened = TpmKeyProvider.open(tpm, dir, 0x81000402);
    assertEquals(key.publicKey(), reopened.publicKey());
    Signature v = Signature.getInstance("SHA256withECDSA");
    v.initVerify(key.publicKey());
    v.update(new byte[] {1, 2, 3});
    assertTrue(v.verify(reopened.sign(new byte[] {1, 2, 3})));
  }

  @Test
  void blobsCopiedToAnotherTpmDoNotLoad() throws Exception {
    Path dir = tmp.resolve("k3");
    TpmKeyProvider.create(tpm, dir, 0x81000403);
    TpmException e = assertThrows(TpmException.class, () -> TpmKeyProvider.open(TpmTools.of(other.tcti()), dir, 0x81000403));
    assertTrue(e.getMessage().contains("cannot load the login key"), e.getMessage());
  }

  @Test
  void refusesAHandleInUseAndAnExistingKeyFile() throws Exception {
    TpmKeyProvider.create(tpm, tmp.resolve("k4"), 0x81000404);
    assertThrows(TpmException.class, () -> TpmKeyProvider.create(tpm, tmp.resolve("k5"), 0x81000404));
    assertThrows(java.io.IOException.class, () -> TpmKeyProvider.create(tpm, tmp.resolve("k4"), 0x81000405));
    assertThrows(IllegalArgumentException.class, () -> TpmKeyProvider.create(tpm, tmp.resolve("k6"), 0x81010001));
    assertTrue(!Files.exists(tmp.resolve("k5").resolve(TpmKeyProvider.PUBLIC_FILE)));
  }

  @Test
  void attestationOperationsLeaveNoTransientHandles() throws Exception {
    TpmKeyProvider key = TpmKeyProvider.create(tpm, tmp.resolve("k7"), 0x81000407);
    for (int i = 0; i < 4; i++) {
      try (TpmAttestor attestor = TpmAttestor.begin(tpm)) {
        attestor.quote(new byte[] {(byte) i});
        attestor.certify(key);
      }
    }
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-transient").strip());
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-loaded-session").strip());
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-saved-session").strip());
  }
}
