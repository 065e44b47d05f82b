package dev.m2mfa.authority.store;

/** A storage failure. Its message is for the operator's log, never for a response. */
public final class StoreException extends RuntimeException {
  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
