package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KeyEncryptionKeySource seam: what an operator unlocked, an unattended source may unlock again; a refusing source leaves the key locked. */
class AutoUnsealSeamTest {
  static final String PASS = "auto-unseal passphrase";
  @TempDir Path dir;

  KeyContext ctx() {
    Map<String, String> o = new HashMap<>(SealedKeyProviderContractTest.FAST);
    o.put("auto_unseal", "test-memory");
    return KeyContext.of(dir, o, KeyContext.Secrets.fixed(PASS.toCharArray()));
  }

  @AfterEach
  void reset() {
    InMemoryKeySource.bootStateChanged = false;
    InMemoryKeySource.KEPT.clear();
  }

  @Test
  void anUnchangedMachineRestartsUnlockedAndAChangedOneWaitsForAnOperator() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx());
    SealedKey restarted = (SealedKey) new SealedKeyProvider().open(ctx());
    assertThat(restarted.locked()).as("the source kept the secret at enrollment").isFalse();
    assertThat(restarted.publicKey()).isEqualTo(generated.publicKey());

    InMemoryKeySource.bootStateChanged = true;
    SealedKey changed = (SealedKey) new SealedKeyProvider().open(ctx());
    assertThat(changed.locked()).isTrue();
    assertThatThrownBy(() -> changed.sign(new byte[] {1})).isInstanceOf(KeyLockedException.class);
    changed.unlockWithPassphrase(PASS.toCharArray());
    assertThat(changed.locked()).isFalse();
  }

  @Test
  void aReSealForgetsTheOldSecretAndAWrongSecretIsRefusedLikeAnyOther() throws Exception {
    SealedKey generated = (SealedKey) new SealedKeyProvider().generate(ctx());
    List<String> shares = SealedKeyProvider.resealToShares(generated, ctx(), 2, 3);
    assertThat(InMemoryKeySource.KEPT).isEmpty();
    assertThat(((SealedKey) new SealedKeyProvider().open(ctx())).locked()).isTrue();

    InMemoryKeySource.KEPT.put(dir, dev.m2mfa.api.SecretBytes.random(32));
    assertThat(((SealedKey) new SealedKeyProvider().open(ctx())).locked()).as("a wrong secret from the source").isTrue();

    SealedKey byOperators = (SealedKey) new SealedKeyProvider().open(ctx());
    byOperators.unlockWithShares(shares.subList(0, 2));
    assertThat(((SealedKey) new SealedKeyProvider().open(ctx())).locked()).as("remembered after the operators' unlock").isFalse();
  }
}
