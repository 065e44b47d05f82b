package dev.m2mfa.authority.policy;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What {@link PolicySource} has in force and how its last reload went, for the audit log and
 * the operator. It holds file paths and validation messages, never file contents: put all of
 * it in the audit log and admin answers, but on an unauthenticated health endpoint show only
 * {@link #healthy()}, {@link #generation()} and {@link #digest()} (paths are internals).
 *
 * @param generation 1 for the policy loaded at start, +1 for each reload that changed it
 * @param digest SHA-256 (hex) over the file names and bytes of the policy in force: which
 *     policy decided a login
 * @param files the files of the policy in force
 * @param loadedAt when the policy in force was loaded
 * @param lastAttempt when a reload was last attempted (equals loadedAt after a good one)
 * @param errors empty when the last attempt succeeded (or found nothing changed); else why the
 *     files on disk were refused, each {@code file:line:col: message}, and the older policy stays
 */
public record PolicyStatus(long generation, String digest, List<String> files, Instant loadedAt, Instant lastAttempt,
    List<PolicyError> errors) {
  public PolicyStatus {
    files = List.copyOf(files);
    errors = List.copyOf(errors);
  }

  /** True when the files on disk are what is in force. */
  public boolean healthy() {
    return errors.isEmpty();
  }

  /** The first error, for a one-line health answer. */
  public Optional<String> firstError() {
    return errors.isEmpty() ? Optional.empty() : Optional.of(errors.getFirst().toString());
  }
}
