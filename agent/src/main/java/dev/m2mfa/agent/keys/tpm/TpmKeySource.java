package dev.m2mfa.agent.keys.tpm;

import dev.m2mfa.agent.keys.KeyEncryptionKeySource;
import dev.m2mfa.api.SecretBytes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * TPM auto-unseal for the {@code sealed} provider ({@code key.auto_unseal=tpm}): after an
 * operator unlocks the key, its unlock secret is sealed to this TPM under PolicyPCR
 * ({@link TpmSealedSecret}); at the next start the TPM gives it back only while the selected
 * PCRs still hold the values of that moment. Options: {@code tcti} (default
 * {@code device:/dev/tpmrm0}) and {@code auto_unseal_pcrs} (default {@code sha256:7}, the
 * Secure Boot state).
 *
 * <p>A changed boot state is an exception whose message says so; the sealed key stays locked,
 * keeps that message for the operator, and the next operator unlock seals the secret again
 * to the new state. A TPM sealed object holds at most 128 bytes: a passphrase longer than that
 * in UTF-8 cannot be sealed, {@link #remember} says so and auto-unseal stays off (shares
 * always fit: their secret is 32 bytes).
 */
public final class TpmKeySource implements KeyEncryptionKeySource {
  public static final int MAX_SECRET = 128;
  private final String tcti;
  private final String pcrs;

  /** The ServiceLoader's instance: the production TPM and the default PCRs. */
  public TpmKeySource() {
    this(TpmTools.DEVICE_TCTI, TpmSealedSecret.DEFAULT_PCRS);
  }

  private TpmKeySource(String tcti, String pcrs) {
    this.tcti = tcti;
    this.pcrs = pcrs;
  }

  @Override
  public String name() {
    return "tpm";
  }

  @Override
  public KeyEncryptionKeySource withOptions(Map<String, String> options) {
    String t = options.getOrDefault("tcti", TpmTools.DEVICE_TCTI).strip();
    try {
      TpmTools.of(t);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("key.tcti is not a valid TCTI string (e.g. device:/dev/tpmrm0)");
    }
    String pcrs = options.getOrDefault("auto_unseal_pcrs", TpmSealedSecret.DEFAULT_PCRS).strip();
    try {
      TpmSealedSecret.checkPcrs(pcrs);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("key.auto_unseal_pcrs: " + e.getMessage());
    }
    return new TpmKeySource(t, pcrs);
  }

  @Override
  public Optional<SecretBytes> recall(Path stateDir) throws IOException {
    if (!TpmSealedSecret.exists(stateDir)) return Optional.empty();
    byte[] secret = TpmSealedSecret.unseal(TpmTools.shared(tcti), stateDir);
    try {
      return Optional.of(SecretBytes.copyOf(secret));
    } finally {
      Arrays.fill(secret, (byte) 0);
    }
  }

  @Override
  public void remember(Path stateDir, SecretBytes unlockSecret) throws IOException {
    byte[] secret = unlockSecret.revealForUse();
    try {
      if (secret.length > MAX_SECRET) {
        throw new IOException("the unlock secret is longer than the " + MAX_SECRET + " bytes a TPM can seal; TPM auto-unseal stays off");
      }
      TpmSealedSecret.seal(TpmTools.shared(tcti), stateDir, pcrs, secret);
    } finally {
      Arrays.fill(secret, (byte) 0);
      unlockSecret.destroy();
    }
  }

  @Override
  public void forget(Path stateDir) throws IOException {
    for (String f : new String[] {TpmSealedSecret.PUBLIC_FILE, TpmSealedSecret.PRIVATE_FILE, TpmSealedSecret.PCRS_FILE}) {
      Files.deleteIfExists(stateDir.resolve(f));
    }
  }

  @Override
  public String toString() {
    return "TpmKeySource[" + tcti + ", PCRs " + pcrs + "]";
  }
}
