package dev.m2mfa.api.tpm;

/** Untrusted TPM bytes did not parse; the message is a fixed sentence safe to show a client. */
public final class MalformedTpmDataException extends RuntimeException {
  public MalformedTpmDataException(String message) {
    super(message, null, false, false);
  }
}
