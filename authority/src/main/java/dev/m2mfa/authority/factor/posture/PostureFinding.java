package dev.m2mfa.authority.factor.posture;

/**
 * One way a report differs from the machine's baseline, for the policy engine to map to a
 * response (deny, step down, alert). {@code kind} is stable ({@link #KINDS}); {@code text} is
 * the readable line that also goes into the reason, e.g. {@code /usr/sbin/sshd: sha256 changed}.
 */
public record PostureFinding(String kind, String text) implements Comparable<PostureFinding> {
  public static final String FILE_CHANGED = "file.changed";
  public static final String FILE_MISSING = "file.missing";
  public static final String FILE_NEW = "file.new";
  public static final String PACKAGE_FORBIDDEN = "package.forbidden";
  public static final String PACKAGE_REQUIRED = "package.required";
  public static final String PACKAGE_CHANGED = "package.changed";
  public static final String PACKAGE_NEW = "package.new";
  public static final String PACKAGE_REMOVED = "package.removed";
  public static final String PROCESS_UNKNOWN = "process.unknown";
  public static final String PROCESS_CHANGED = "process.changed";
  public static final String LISTENER_NEW = "listener.new";
  public static final String OS_CHANGED = "os.changed";
  public static final java.util.List<String> KINDS = java.util.List.of(FILE_CHANGED, FILE_MISSING, FILE_NEW, PACKAGE_FORBIDDEN,
      PACKAGE_REQUIRED, PACKAGE_CHANGED, PACKAGE_NEW, PACKAGE_REMOVED, PROCESS_UNKNOWN, PROCESS_CHANGED, LISTENER_NEW, OS_CHANGED);

  @Override
  public int compareTo(PostureFinding o) {
    int c = kind.compareTo(o.kind);
    return c != 0 ? c : text.compareTo(o.text);
  }

  @Override
  public String toString() {
    return text;
  }
}
