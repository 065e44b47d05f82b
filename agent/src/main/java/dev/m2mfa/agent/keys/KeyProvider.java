package dev.m2mfa.agent.keys;

import java.io.IOException;

/**
 * Where the machine's identity key lives. One implementation per residence, found by
 * {@link #name()} through {@link java.util.ServiceLoader} ({@link KeyProviders}); the agent's
 * {@code agent.conf} names it ({@code key_provider=software|sealed|pkcs11|tpm}) with its options
 * as {@code key.<option>=value}.
 *
 * <p>Contract (checked for every provider by the agent's {@code KeyProviderContract} test):
 * the key is ECDSA P-256 and signs SHA-256/DER; it is generated inside the provider and never
 * leaves it (no method returns private key bytes); {@link #generate} refuses to overwrite an
 * existing key; {@link #open} in a new process gives the same public key; the handle's
 * {@code toString()} names no secret. Implementations are stateless: all state is in the
 * agent's state directory or in the device.
 */
public interface KeyProvider {
  /** Stable lowercase name, e.g. {@code pkcs11}; stored in agent.conf and sent at enrollment. */
  String name();

  /** Creates a new key; throws {@link KeyExistsException} if this provider already holds one for this agent. */
  MachineSigner generate(KeyContext context) throws IOException;

  /** Opens the key created by {@link #generate} (possibly in another process). */
  MachineSigner open(KeyContext context) throws IOException;

  /** Removes the key {@link #generate} made, after an enrollment the authority refused. */
  void discard(KeyContext context) throws IOException;

  /** A key is already there: generate never overwrites. */
  final class KeyExistsException extends IOException {
    public KeyExistsException(String message) {
      super(message);
    }
  }
}
