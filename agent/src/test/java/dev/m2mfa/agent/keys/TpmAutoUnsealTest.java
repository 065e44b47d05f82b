package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.testkit.Swtpm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TPM auto-unseal of the sealed provider ({@code key.auto_unseal=tpm}) on a real swtpm: an
 * unchanged PCR state reopens the key unlocked with no operator; after a PCR extend (a changed
 * boot state) it stays locked and says why, an operator unlock works and seals the secret
 * again to the new state. PCR 16 (resettable) and 23 stand in for the boot PCRs.
 */
class TpmAutoUnsealTest {
  static final String PASS = "tpm auto-unseal passphrase";
  @TempDir static Path tmp;
  @TempDir Path dir;
  static Swtpm swtpm;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start(tmp.resolve("tpm"), tmp.resolve("ca"));
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) swtpm.close();
  }

  KeyContext ctx(String pcrs) {
    Map<String, String> o = new HashMap<>(SealedKeyProviderContractTest.FAST);
    o.put("auto_unseal", "tpm");
    o.put("tcti", swtpm.tcti());
    o.put("auto_unseal_pcrs", pcrs);
    return KeyContext.of(dir, o, KeyContext.Secrets.fixed(PASS.toCharArray()));
  }

  @Test
  void anUnchangedBootStateUnlocksUnattendedAndAChangedOneWaitsForAnOperator() throws Exception {
    swtpm.toolOk("tpm2_pcrreset", "16");
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx("sha256:16"));
    for (int reboot = 0; reboot < 2; reboot++) {
      SealedKey restarted = (SealedKey) new SealedKeyProvider().open(ctx("sha256:16"));
      assertThat(restarted.locked()).as("unchanged PCRs: unlocked by the TPM").isFalse();
      assertThat(restarted.autoUnsealRefusal()).isEmpty();
      byte[] sig = restarted.sign(new byte[] {7});
      assertThat(KeyProviderContract.verifies(generated, new byte[] {7}, sig)).isTrue();
    }

    swtpm.toolOk("tpm2_pcrextend", "16:sha256=" + "5a".repeat(32));
    SealedKey changed = (SealedKey) new SealedKeyProvider().open(ctx("sha256:16"));
    assertThat(changed.locked()).isTrue();
    assertThat(changed.autoUnsealRefusal()).get(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .contains("auto-unseal (tpm) refused", "boot state measured in PCRs sha256:16", "an operator must unlock");
    assertThatThrownBy(() -> changed.sign(new byte[] {1})).isInstanceOf(KeyLockedException.class)
        .hasMessageContaining("an operator must unlock it (m2mfa agent unlock)").hasMessageContaining("boot state")
        .hasMessageNotContaining(PASS);

    changed.unlockWithPassphrase(PASS.toCharArray());
    assertThat(changed.locked()).isFalse();
    SealedKey nextBoot = (SealedKey) new SealedKeyProvider().open(ctx("sha256:16"));
    assertThat(nextBoot.locked()).as("the operator's unlock sealed the secret to the new PCR state").isFalse();
    swtpm.toolOk("tpm2_pcrreset", "16");
  }

  @Test
  void theSecretIsNeverOnDiskInClearAndAReSealToSharesForgetsIt() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx("sha256:23"));
    byte[] pass = PASS.getBytes(StandardCharsets.UTF_8);
    try (var files = Files.list(dir)) {
      List<Path> all = files.toList();
      assertThat(all.stream().map(p -> p.getFileName().toString())).contains("tpm-sealed.pub", "tpm-sealed.priv", "tpm-sealed.pcrs");
      for (Path p : all) assertThat(new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1)).as(p.toString())
          .doesNotContain(new String(pass, StandardCharsets.ISO_8859_1));
    }
    List<String> shares = SealedKeyProvider.resealToShares(generated, ctx("sha256:23"), 2, 3);
    assertThat(dir.resolve("tpm-sealed.priv")).doesNotExist();
    SealedKey locked = (SealedKey) new SealedKeyProvider().open(ctx("sha256:23"));
    assertThat(locked.locked()).as("nothing sealed after the re-seal").isTrue();
    assertThat(locked.autoUnsealRefusal()).isEmpty();
    locked.unlockWithShares(shares.subList(1, 3));
    assertThat(((SealedKey) new SealedKeyProvider().open(ctx("sha256:23"))).locked()).as("the shares' secret sealed to the TPM").isFalse();
  }

  @Test
  void badAutoUnsealOptionsAreRefusedBeforeAnythingIsWritten() throws Exception {
    assertThatThrownBy(() -> new SealedKeyProvider().generate(ctx("sha256:99"))).hasMessageContaining("key.auto_unseal_pcrs");
    Map<String, String> o = new HashMap<>(ctx("sha256:23").options());
    o.put("tcti", "swtpm:host=;reboot");
    assertThatThrownBy(() -> new SealedKeyProvider().generate(KeyContext.of(dir, o, KeyContext.Secrets.fixed(PASS.toCharArray()))))
        .hasMessageContaining("key.tcti is not a valid TCTI");
    try (var files = Files.list(dir)) {
      assertThat(files.toList()).isEmpty();
    }
  }

  @Test
  void sealedFilesCopiedToAnotherTpmUnlockNothing() throws Exception {
    new SealedKeyProvider().generate(ctx("sha256:23"));
    try (Swtpm other = Swtpm.start(tmp.resolve("other"), tmp.resolve("ca"))) {
      Map<String, String> o = new HashMap<>(ctx("sha256:23").options());
      o.put("tcti", other.tcti());
      SealedKey there = (SealedKey) new SealedKeyProvider().open(KeyContext.of(dir, o, KeyContext.Secrets.none()));
      assertThat(there.locked()).isTrue();
      assertThat(there.autoUnsealRefusal()).get(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .contains("cannot load the sealed key-encryption key");
    }
  }
}
