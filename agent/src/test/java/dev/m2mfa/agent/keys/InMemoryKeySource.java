package dev.m2mfa.agent.keys;

import dev.m2mfa.api.SecretBytes;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A test stand-in for an unattended unlock source (the TPM's place): keeps the unlock secret in
 * this JVM's memory per state directory, and can be told to refuse, as a TPM does when the boot
 * state changed. Only the seam is under test here; the TPM source is tested with swtpm.
 */
public final class InMemoryKeySource implements KeyEncryptionKeySource {
  static final Map<Path, SecretBytes> KEPT = new ConcurrentHashMap<>();
  static volatile boolean bootStateChanged;

  @Override
  public String name() {
    return "test-memory";
  }

  @Override
  public Optional<SecretBytes> recall(Path stateDir) {
    if (bootStateChanged) return Optional.empty();
    SecretBytes s = KEPT.get(stateDir);
    return s == null ? Optional.empty() : Optional.of(SecretBytes.copyOf(s.revealForUse()));
  }

  @Override
  public void remember(Path stateDir, SecretBytes unlockSecret) {
    KEPT.put(stateDir, unlockSecret);
  }

  @Override
  public void forget(Path stateDir) {
    SecretBytes s = KEPT.remove(stateDir);
    if (s != null) s.destroy();
  }
}
