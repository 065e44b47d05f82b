package dev.m2mfa.api;

import java.util.regex.Pattern;

/** A validated machine or admin name: {@code [a-z0-9][a-z0-9-]{0,62}}. */
public record MachineName(String value) {
  private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

  public MachineName {
    if (value == null || !VALID.matcher(value).matches()) {
      throw new IllegalArgumentException("a machine name is 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit");
    }
  }

  public static boolean isValid(String s) {
    return s != null && VALID.matcher(s).matches();
  }

  public String spiffeId(String trustDomain) {
    return "spiffe://" + trustDomain + "/machine/" + value;
  }

  @Override
  public String toString() {
    return value;
  }
}
