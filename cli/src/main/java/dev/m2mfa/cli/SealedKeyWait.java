package dev.m2mfa.cli;

import dev.m2mfa.agent.keys.MachineSigner;
import dev.m2mfa.agent.keys.SealedKey;

/** The daemon waits here while its sealed key is locked; operators unlock it through the socket. */
final class SealedKeyWait {
  private SealedKeyWait() {}

  static void untilUnlocked(MachineSigner key) throws InterruptedException {
    if (!(key instanceof SealedKey sealed) || !sealed.locked()) return;
    int k = sealed.sharesNeeded();
    sealed.autoUnsealRefusal().ifPresent(why -> System.err.println("m2mfa agent: " + why));
    System.err.println("m2mfa agent: the identity key is sealed and locked; waiting for "
        + (k == 0 ? "an operator's passphrase" : k + " operators' shares") + " (m2mfa agent unlock --dir ...)");
    while (sealed.locked()) Thread.sleep(200);
    System.err.println("m2mfa agent: unlocked");
  }
}
