package dev.m2mfa.agent.keys.tpm;

import java.io.IOException;

/** A TPM operation failed; the message names the step and the TPM's answer, never key material. */
public class TpmException extends IOException {
  public TpmException(String message) {
    super(message);
  }

  public TpmException(String message, Throwable cause) {
    super(message, cause);
  }
}
