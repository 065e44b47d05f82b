package dev.m2mfa.agent.keys;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The sealed provider under the contract; a reopened key is locked until {@link #usable} unlocks it. */
class SealedKeyProviderContractTest extends KeyProviderContract {
  static final String PASS = "sealed-contract-passphrase";
  /** Cheaper Argon2 than the default so the suite stays quick; SealedKeyTest checks the defaults. */
  static final Map<String, String> FAST = Map.of("argon2_memory_kib", "8192", "argon2_iterations", "1");

  @Override
  KeyProvider provider() {
    return new SealedKeyProvider();
  }

  @Override
  KeyContext context(Path stateDir) {
    return KeyContext.of(stateDir, FAST, KeyContext.Secrets.fixed(PASS.toCharArray()));
  }

  @Override
  List<String> secretsInContext() {
    return List.of(PASS);
  }

  @Override
  MachineSigner usable(MachineSigner opened) throws Exception {
    ((SealedKey) opened).unlockWithPassphrase(PASS.toCharArray());
    return opened;
  }

  /** Checked on the opened, still locked handle: nothing to find until an operator unlocks. */
  @Override
  boolean keyBytesStayInProvider() {
    return true;
  }

  @Override
  void noPrivateKeyBytesAreReachableFromTheHandle() throws Exception {
    provider().generate(context(dir));
    MachineSigner locked = provider().open(context(dir));
    org.assertj.core.api.Assertions.assertThat(locked.tlsKey()).isEmpty();
    org.assertj.core.api.Assertions.assertThat(privateKeysReachableFrom(locked)).isEmpty();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> locked.sign(new byte[] {1})).isInstanceOf(KeyLockedException.class);
  }
}
