package dev.m2mfa.api.posture;

/**
 * Untrusted posture bytes were refused. The message is a short sentence safe for an audit log:
 * it never quotes the offending bytes, at most an already-validated entry id.
 */
public final class InvalidReportException extends IllegalArgumentException {
  public InvalidReportException(String reason) {
    super(reason);
  }
}
