package dev.m2mfa.authority.policy;

/**
 * One problem found while loading policy files.
 *
 * @param file the file as the operator named it (or as found in a named directory)
 * @param line 1-based line; 1 for problems of the whole file
 * @param column 1-based column; 1 for problems of the whole file
 * @param message what is wrong, in one sentence without the location
 */
public record PolicyError(String file, int line, int column, String message) {
  /** {@code file:line:col: message}, the form compilers use, so editors can jump to it. */
  @Override
  public String toString() {
    return file + ":" + line + ":" + column + ": " + message;
  }
}
