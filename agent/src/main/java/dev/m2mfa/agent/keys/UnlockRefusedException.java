package dev.m2mfa.agent.keys;

import java.io.IOException;

/** An unlock of a sealed key was refused; the message is meant for the operator and names no secret. */
public final class UnlockRefusedException extends IOException {
  public UnlockRefusedException(String message) {
    super(message);
  }
}
