package dev.m2mfa.agent.keys.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.m2mfa.testkit.Swtpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TPM auto-unseal of the sealed provider's key-encryption key, on swtpm: unseals while the
 * PCRs are unchanged, refuses with a plain sentence after a PCR extend (a changed boot
 * state), and the sealed files are useless on another TPM.
 */
class TpmSealedSecretTest {
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

  static byte[] kek() {
    byte[] k = new byte[32];
    new SecureRandom().nextBytes(k);
    return k;
  }

  @Test
  void unsealsWithUnchangedPcrsAndRefusesAfterExtend() throws Exception {
    Path dir = tmp.resolve("sealed-16");
    byte[] kek = kek();
    // PCR 16 is the debug PCR: resettable, so this test does not disturb the others
    TpmSealedSecret.seal(tpm, dir, "sha256:16", kek);
    assertTrue(TpmSealedSecret.exists(dir));
    assertArrayEquals(kek, TpmSealedSecret.unseal(tpm, dir));
    assertArrayEquals(kek, TpmSealedSecret.unseal(tpm, dir)); // a reboot with the same state unseals again
    swtpm.toolOk("tpm2_pcrextend", "16:sha256=" + "ab".repeat(32));
    TpmSealedSecret.BootStateChangedException e = assertThrows(TpmSealedSecret.BootStateChangedException.class,
        () -> TpmSealedSecret.unseal(tpm, dir));
    assertTrue(e.getMessage().contains("boot state measured in PCRs sha256:16"), e.getMessage());
    assertTrue(e.getMessage().contains("an operator must unlock"), e.getMessage());
    // the secret never appears in the message or on disk
    assertTrue(!e.getMessage().contains(java.util.HexFormat.of().formatHex(kek)));
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) assertTrue(indexOf(Files.readAllBytes(p), kek) < 0, p + " holds the secret in clear");
    }
    swtpm.toolOk("tpm2_pcrreset", "16");
    assertArrayEquals(kek, TpmSealedSecret.unseal(tpm, dir)); // back to the sealed state
  }

  @Test
  void defaultSecureBootPcrPolicy() throws Exception {
    Path dir = tmp.resolve("sealed-7");
    byte[] kek = kek();
    TpmSealedSecret.seal(tpm, dir, TpmSealedSecret.DEFAULT_PCRS, kek);
    assertArrayEquals(kek, TpmSealedSecret.unseal(tpm, dir));
    swtpm.toolOk("tpm2_pcrextend", "7:sha256=" + "cd".repeat(32));
    assertThrows(TpmSealedSecret.BootStateChangedException.class, () -> TpmSealedSecret.unseal(tpm, dir));
  }

  @Test
  void sealedFilesAreUselessOnAnotherTpm() throws Exception {
    Path dir = tmp.resolve("sealed-copy");
    TpmSealedSecret.seal(tpm, dir, "sha256:23", kek());
    TpmException e = assertThrows(TpmException.class, () -> TpmSealedSecret.unseal(TpmTools.of(other.tcti()), dir));
    assertTrue(e.getMessage().contains("cannot load the sealed key-encryption key"), e.getMessage());
  }

  @Test
  void tamperedSealedObjectIsRefused() throws Exception {
    Path dir = tmp.resolve("sealed-tampered");
    TpmSealedSecret.seal(tpm, dir, "sha256:23", kek());
    byte[] priv = Files.readAllBytes(dir.resolve(TpmSealedSecret.PRIVATE_FILE));
    priv[priv.length - 5] ^= 0x01;
    Files.write(dir.resolve(TpmSealedSecret.PRIVATE_FILE), priv);
    assertThrows(TpmException.class, () -> TpmSealedSecret.unseal(tpm, dir));
  }

  @Test
  void noTransientObjectIsLeftBehind() throws Exception {
    Path dir = tmp.resolve("sealed-flush");
    TpmSealedSecret.seal(tpm, dir, "sha256:23", kek());
    for (int i = 0; i < 5; i++) TpmSealedSecret.unseal(tpm, dir);
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-transient").strip());
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-loaded-session").strip());
    assertEquals("", swtpm.toolOk("tpm2_getcap", "handles-saved-session").strip());
  }

  static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
      return i;
    }
    return -1;
  }
}
