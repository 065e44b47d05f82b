package dev.m2mfa.agent.keys;

/** The identity key is sealed and no operator has unlocked it (or its unlock interval ran out). */
public final class KeyLockedException extends IllegalStateException {
  public KeyLockedException(String message) {
    super(message);
  }
}
