package dev.m2mfa.agent.keys;

import dev.m2mfa.api.SecretBytes;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * An unattended source of a sealed key's unlock secret: the seam for TPM auto-unseal. Found
 * through {@link java.util.ServiceLoader} by {@link #name()} and enabled in agent.conf with
 * {@code key.auto_unseal=<name>} (for example {@code tpm}).
 *
 * <p>The unlock secret is what Argon2id turns into the key-encryption key: the operator
 * passphrase's UTF-8 bytes, or the 32 bytes that k of n shares rebuild. After an operator
 * unlocks the key, the agent hands the secret to {@link #remember} so the source can seal it
 * (a TPM seals it under a PCR policy). At the next start the agent asks {@link #recall}; an
 * empty answer (nothing sealed yet) or an exception (boot state changed: its message says so,
 * and {@code SealedKey#autoUnsealRefusal} keeps it for the operator) leaves the key locked
 * until an operator unlocks it, exactly as without a source. A wrong secret is refused by the sealed
 * file as any other would be: a source cannot weaken the file, only spare the operator.
 *
 * <p>Security: a source must not write the secret anywhere readable in clear, and must
 * not log it. Warning: whoever can make {@link #recall} answer can unlock the key on this
 * machine; a TPM policy bounds that to an unchanged boot state.
 */
public interface KeyEncryptionKeySource {
  /** The name used in {@code key.auto_unseal}. */
  String name();

  /**
   * This source configured with the sealed provider's options ({@code key.<option>} from
   * agent.conf, prefix removed), e.g. which TPM and which PCRs; sources without options
   * return themselves.
   */
  default KeyEncryptionKeySource withOptions(java.util.Map<String, String> options) {
    return this;
  }

  /** The unlock secret, or empty when this source cannot give it now. */
  Optional<SecretBytes> recall(Path stateDir) throws IOException;

  /** Keeps {@code unlockSecret} for unattended unlocks after an operator unlocked the key. */
  void remember(Path stateDir, SecretBytes unlockSecret) throws IOException;

  /** Forgets whatever {@link #remember} kept (after a re-seal, the old secret is useless). */
  void forget(Path stateDir) throws IOException;
}
