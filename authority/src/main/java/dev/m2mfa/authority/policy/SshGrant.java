package dev.m2mfa.authority.policy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What a class's {@code ssh:} block in a policy file grants its machines in OpenSSH
 * certificates. The SSH CA reads it through {@code SshGrantPolicy.fromPolicy}; a class without
 * the block falls back to the {@code ssh.*} options of {@code authority.conf}.
 *
 * <p>Principals are templates: {@value #MACHINE} stands for the machine's name and is filled in
 * per certificate by {@link #principalsFor}. Every bound below is checked by the loader with a
 * file:line:col message; the constructor checks them again so no other code path can build an
 * out-of-bounds grant.
 *
 * @param principals user-certificate principal templates, 1 to {@value #MAX_PRINCIPALS}
 * @param userCertificateLifetime {@link #MIN_USER_LIFETIME} to {@link #MAX_USER_LIFETIME}
 * @param hostCertificateLifetime {@link #MIN_HOST_LIFETIME} to {@link #MAX_HOST_LIFETIME}
 * @param forceCommand the {@code force-command} critical option of user certificates, if any
 * @param minLevel the level (of the same class) whose {@code acr} a token must reach to get a
 *     user certificate, if any
 */
public record SshGrant(List<String> principals, Duration userCertificateLifetime, Duration hostCertificateLifetime,
    Optional<String> forceCommand, Optional<String> minLevel) {
  /** The placeholder for the machine's name in a principal. */
  public static final String MACHINE = "{machine}";
  public static final int MAX_PRINCIPALS = 32;
  public static final int MAX_PRINCIPAL_LENGTH = 64;
  public static final int MAX_FORCE_COMMAND_LENGTH = 1024;
  public static final Duration DEFAULT_USER_LIFETIME = Duration.ofMinutes(10);
  public static final Duration MIN_USER_LIFETIME = Duration.ofMinutes(1);
  public static final Duration MAX_USER_LIFETIME = Duration.ofHours(24);
  public static final Duration DEFAULT_HOST_LIFETIME = Duration.ofHours(24);
  /** Host bounds equal those of {@code ssh.host_certificate_seconds}: moving a setting into policy allows nothing new. */
  public static final Duration MIN_HOST_LIFETIME = Duration.ofMinutes(5);
  public static final Duration MAX_HOST_LIFETIME = Duration.ofDays(30);
  /**
   * OpenSSH lists principals comma-separated in {@code AuthorizedPrincipalsFile} and logs them:
   * printable ASCII without space and comma keeps them one unambiguous word.
   */
  static final Pattern PRINCIPAL_CHARS = Pattern.compile("[\\x21-\\x2b\\x2d-\\x7e]+");

  public SshGrant {
    principals = List.copyOf(principals);
    if (principals.isEmpty() || principals.size() > MAX_PRINCIPALS) {
      throw new IllegalArgumentException("an ssh grant needs 1-" + MAX_PRINCIPALS + " principals");
    }
    for (String p : principals) {
      if (principalProblem(p).isPresent()) throw new IllegalArgumentException("invalid principal template");
    }
    if (userCertificateLifetime.compareTo(MIN_USER_LIFETIME) < 0 || userCertificateLifetime.compareTo(MAX_USER_LIFETIME) > 0) {
      throw new IllegalArgumentException("user certificate lifetime out of bounds");
    }
    if (hostCertificateLifetime.compareTo(MIN_HOST_LIFETIME) < 0 || hostCertificateLifetime.compareTo(MAX_HOST_LIFETIME) > 0) {
      throw new IllegalArgumentException("host certificate lifetime out of bounds");
    }
    if (forceCommand.isPresent() && forceCommandProblem(forceCommand.get()).isPresent()) {
      throw new IllegalArgumentException("invalid force command");
    }
  }

  /** The block's defaults: the machine's own name, 10 minutes, 24 hours, no force-command, no minimum. */
  public static SshGrant defaults() {
    return new SshGrant(List.of(MACHINE), DEFAULT_USER_LIFETIME, DEFAULT_HOST_LIFETIME, Optional.empty(), Optional.empty());
  }

  /**
   * The principals for {@code machineName}: each template with {@value #MACHINE} replaced,
   * duplicates dropped, order kept.
   */
  public List<String> principalsFor(String machineName) {
    List<String> out = new ArrayList<>();
    for (String t : principals) {
      String p = t.replace(MACHINE, machineName);
      if (!out.contains(p)) out.add(p);
    }
    return List.copyOf(out);
  }

  /** Why {@code template} is not a valid principal, in words for a policy error; empty if it is. */
  static Optional<String> principalProblem(String template) {
    String shown = template.length() > 40 ? template.substring(0, 40) + "..." : template;
    if (template.isEmpty() || template.length() > MAX_PRINCIPAL_LENGTH || !PRINCIPAL_CHARS.matcher(template).matches()) {
      // the text may hold control characters: show none of it raw
      return Optional.of("principal " + quoteSafely(shown) + " must be 1-" + MAX_PRINCIPAL_LENGTH
          + " printable ASCII characters without spaces or commas");
    }
    String rest = template.replace(MACHINE, "");
    if (rest.indexOf('{') >= 0 || rest.indexOf('}') >= 0) {
      return Optional.of("principal '" + shown + "' has an unknown placeholder (the only one is " + MACHINE + ")");
    }
    return Optional.empty();
  }

  static Optional<String> forceCommandProblem(String command) {
    if (command.isBlank() || command.length() > MAX_FORCE_COMMAND_LENGTH || command.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      return Optional.of("force_command must be 1-" + MAX_FORCE_COMMAND_LENGTH + " characters without control characters");
    }
    return Optional.empty();
  }

  private static String quoteSafely(String s) {
    StringBuilder b = new StringBuilder("'");
    for (char c : s.toCharArray()) {
      if (c < 0x20 || c == 0x7f) b.append(String.format("\\x%02x", (int) c));
      else b.append(c);
    }
    return b.append('\'').toString();
  }
}
