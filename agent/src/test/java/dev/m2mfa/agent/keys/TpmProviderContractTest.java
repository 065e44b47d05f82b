package dev.m2mfa.agent.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.agent.keys.tpm.TpmProvider;
import dev.m2mfa.testkit.Swtpm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tpm provider under the contract, against a real swtpm started for this class; each
 * test's key gets its own persistent handle, evicted afterwards. Adds what only a TPM key
 * shows: the key files alone open nothing on another TPM, discard evicts the handle, and bad
 * options are refused before the TPM is touched.
 */
class TpmProviderContractTest extends KeyProviderContract {
  private static final AtomicInteger N = new AtomicInteger();
  @TempDir static Path tpmDir;
  static Swtpm swtpm;
  static Swtpm other;
  private String handle;

  @BeforeAll
  static void start() throws Exception {
    swtpm = Swtpm.start(tpmDir.resolve("tpm"), tpmDir.resolve("ca"));
  }

  @AfterAll
  static void stop() {
    if (swtpm != null) swtpm.close();
    if (other != null) other.close();
  }

  @AfterEach
  void evict() throws Exception {
    if (handle != null && swtpm.toolOk("tpm2_getcap", "handles-persistent").contains(handle)) {
      swtpm.toolOk("tpm2_evictcontrol", "-C", "o", "-c", handle);
    }
  }

  @Override
  KeyProvider provider() {
    return new TpmProvider();
  }

  @Override
  KeyContext context(Path stateDir) {
    if (handle == null) handle = String.format("0x%08x", 0x81000300 + N.incrementAndGet());
    return KeyContext.of(stateDir, Map.of("tcti", swtpm.tcti(), "handle", handle), KeyContext.Secrets.none());
  }

  @Override
  List<String> secretsInContext() {
    return List.of(); // the TPM asks for no secret: the key's protection is the chip itself
  }

  @Override
  boolean keyBytesStayInProvider() {
    return true;
  }

  @Test
  void discardEvictsTheKeyAndRemovesItsFiles() throws Exception {
    provider().generate(context(dir));
    assertThat(swtpm.toolOk("tpm2_getcap", "handles-persistent")).contains(handle);
    provider().discard(context(dir));
    assertThat(swtpm.toolOk("tpm2_getcap", "handles-persistent")).doesNotContain(handle);
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).toList()).noneMatch(n -> n.startsWith("tpm-login"));
    }
    assertThatThrownBy(() -> provider().open(context(dir))).isInstanceOf(java.io.IOException.class);
  }

  @Test
  void theKeyFilesOpenNothingOnAnotherTpm() throws Exception {
    MachineSigner k = provider().generate(context(dir));
    if (other == null) other = Swtpm.start(tpmDir.resolve("other"), tpmDir.resolve("ca"));
    KeyContext elsewhere = KeyContext.of(dir, Map.of("tcti", other.tcti(), "handle", handle), KeyContext.Secrets.none());
    assertThatThrownBy(() -> provider().open(elsewhere)).isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("cannot load the login key");
    assertThat(other.toolOk("tpm2_getcap", "handles-persistent")).doesNotContain(handle);
    assertThat(usable(provider().open(context(dir))).publicKey()).isEqualTo(k.publicKey());
  }

  @Test
  void badOptionsAreRefusedWithAPlainSentence() throws Exception {
    KeyContext badHandle = KeyContext.of(dir, Map.of("tcti", swtpm.tcti(), "handle", "0x01000001"), KeyContext.Secrets.none());
    assertThatThrownBy(() -> provider().generate(badHandle)).hasMessageContaining("owner persistent range");
    KeyContext badTcti = KeyContext.of(dir, Map.of("tcti", "swtpm:host=$(reboot)"), KeyContext.Secrets.none());
    assertThatThrownBy(() -> provider().generate(badTcti)).hasMessageContaining("key.tcti is not a valid TCTI");
    try (var files = Files.list(dir)) {
      assertThat(files.toList()).isEmpty();
    }
  }
}
