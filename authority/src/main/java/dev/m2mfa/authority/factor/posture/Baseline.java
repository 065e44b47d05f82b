package dev.m2mfa.authority.factor.posture;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.m2mfa.api.posture.Measurement;
import dev.m2mfa.api.posture.Measurement.Kind;
import dev.m2mfa.api.posture.MeasurementList;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What a machine (or a class of machines) should look like, and the rules a report is judged
 * by. Two sources: {@code tofu}, learned from a machine's first report (trust on first use:
 * whatever was on the box then is taken as good, which the stored baseline, the CLI and the
 * audit log all say), and {@code manifest}, a golden manifest an operator built from a
 * reference tree and signed ({@link SignedBaseline}).
 *
 * <p>Rules, each optional (null = not judged):
 * <ul>
 *   <li>{@code files}: path -> expected value (hex SHA-256, {@code link:TARGET}); every listed
 *       file must be present and match; a reported file under one of {@code file_roots} that
 *       is not listed is a new file;
 *   <li>{@code packages_required} / {@code packages_forbidden}: name -> version or {@code *};
 *   <li>{@code packages_known}: the installed set (TOFU): new, removed and changed packages;
 *   <li>{@code processes}: executable path -> hex SHA-256 or {@code *}: anything else running
 *       is an unknown process;
 *   <li>{@code listeners}: allowed {@code proto/port} or {@code proto/addr:port};
 *   <li>{@code os}: {@code kernel} / {@code os} release expected.
 * </ul>
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Baseline(int version, String source, long createdAt, List<String> fileRoots, Map<String, String> files,
    Map<String, String> packagesRequired, Map<String, String> packagesForbidden, Map<String, String> packagesKnown,
    Map<String, String> processes, List<String> listeners, Map<String, String> os) {

  public static final String TOFU = "tofu";
  public static final String MANIFEST = "manifest";
  static final int MAX_RULES = MeasurementList.MAX_ENTRIES;
  private static final int MAX_FINDINGS_IN_REASON = 20;

  static final ObjectMapper JSON = new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

  /** Validates every rule: paths normalized, text free of control characters, sizes bounded. */
  public Baseline {
    if (version != 1) throw new IllegalArgumentException("baseline version must be 1");
    if (!TOFU.equals(source) && !MANIFEST.equals(source)) throw new IllegalArgumentException("baseline source must be tofu or manifest");
    fileRoots = fileRoots == null ? List.of() : List.copyOf(fileRoots);
    for (String r : fileRoots) Measurement.checkPath(r);
    files = checked(files, Kind.FILE);
    packagesRequired = checked(packagesRequired, Kind.PACKAGE);
    packagesForbidden = checked(packagesForbidden, Kind.PACKAGE);
    packagesKnown = checked(packagesKnown, Kind.PACKAGE);
    processes = checked(processes, Kind.PROCESS);
    os = checked(os, Kind.OS);
    if (listeners != null) {
      if (listeners.size() > MAX_RULES) throw new IllegalArgumentException("too many listener rules");
      for (String l : listeners) {
        if (!l.matches("(tcp|udp)/(\\d{1,5}|[0-9a-fA-F.:\\[\\]]{1,64}:\\d{1,5})")) throw new IllegalArgumentException("listener rule must be proto/port or proto/addr:port");
      }
      listeners = List.copyOf(new TreeSet<>(listeners));
    }
  }

  private static Map<String, String> checked(Map<String, String> m, Kind kind) {
    if (m == null) return null;
    if (m.size() > MAX_RULES) throw new IllegalArgumentException("too many " + kind.wire() + " rules");
    for (var e : m.entrySet()) new Measurement(kind, e.getKey(), e.getValue()); // validates key and value
    return Collections.unmodifiableMap(new TreeMap<>(m));
  }

  /** Trust on first use: everything in {@code report} is taken as the expected state. */
  public static Baseline learn(MeasurementList report, long now) {
    Map<String, String> files = new TreeMap<>();
    Map<String, String> pkgs = new TreeMap<>();
    Map<String, String> procs = new TreeMap<>();
    Set<String> listeners = new TreeSet<>();
    Map<String, String> os = new TreeMap<>();
    for (Measurement m : report.entries()) {
      switch (m.kind()) {
        case FILE -> files.put(m.key(), m.value());
        case PACKAGE -> pkgs.put(m.key(), m.value());
        case PROCESS -> procs.put(m.key(), stripDeleted(m.value()));
        case LISTENER -> listeners.add(protoPort(m.key()));
        case OS -> os.put(m.key(), m.value());
      }
    }
    return new Baseline(1, TOFU, now, files.isEmpty() ? List.of() : List.of("/"), files, null, null, pkgs, procs,
        new ArrayList<>(listeners), os);
  }

  public boolean trustOnFirstUse() {
    return TOFU.equals(source);
  }

  /** The ways {@code report} departs from this baseline, sorted by kind then text. */
  public List<PostureFinding> compare(MeasurementList report) {
    List<PostureFinding> out = new ArrayList<>();
    if (files != null) {
      for (var e : files.entrySet()) {
        Measurement m = report.get(Kind.FILE, e.getKey());
        if (m == null) out.add(new PostureFinding(PostureFinding.FILE_MISSING, e.getKey() + ": missing"));
        else if (!m.value().equals(e.getValue())) out.add(new PostureFinding(PostureFinding.FILE_CHANGED, e.getKey() + ": " + describeChange(e.getValue(), m.value())));
      }
      for (Measurement m : report.ofKind(Kind.FILE)) {
        if (!files.containsKey(m.key()) && underRoots(m.key())) out.add(new PostureFinding(PostureFinding.FILE_NEW, m.key() + ": new file"));
      }
    }
    List<Measurement> packages = report.ofKind(Kind.PACKAGE);
    if (packagesForbidden != null) {
      for (Measurement m : packages) {
        String rule = matchPackage(packagesForbidden, m.key());
        if (rule != null && (rule.equals("*") || rule.equals(m.value()))) {
          out.add(new PostureFinding(PostureFinding.PACKAGE_FORBIDDEN, "forbidden package " + m.key() + " " + m.value()));
        }
      }
    }
    if (packagesRequired != null) {
      for (var e : packagesRequired.entrySet()) {
        Measurement m = findPackage(packages, e.getKey());
        if (m == null) out.add(new PostureFinding(PostureFinding.PACKAGE_REQUIRED, "required package " + e.getKey() + " not installed"));
        else if (!e.getValue().equals("*") && !e.getValue().equals(m.value())) {
          out.add(new PostureFinding(PostureFinding.PACKAGE_REQUIRED, "required package " + e.getKey() + " is " + m.value() + ", want " + e.getValue()));
        }
      }
    }
    if (packagesKnown != null) {
      for (Measurement m : packages) {
        String known = packagesKnown.get(m.key());
        if (known == null) out.add(new PostureFinding(PostureFinding.PACKAGE_NEW, "new package " + m.key() + " " + m.value()));
        else if (!known.equals(m.value())) out.add(new PostureFinding(PostureFinding.PACKAGE_CHANGED, "package " + m.key() + " " + known + " -> " + m.value()));
      }
      for (String name : packagesKnown.keySet()) {
        if (report.get(Kind.PACKAGE, name) == null) out.add(new PostureFinding(PostureFinding.PACKAGE_REMOVED, "package " + name + " removed"));
      }
    }
    if (processes != null) {
      for (Measurement m : report.ofKind(Kind.PROCESS)) {
        String want = processes.get(m.key());
        String have = stripDeleted(m.value());
        if (want == null) out.add(new PostureFinding(PostureFinding.PROCESS_UNKNOWN, "unknown process " + m.key()));
        else if (!want.equals("*") && !want.equals(have)) out.add(new PostureFinding(PostureFinding.PROCESS_CHANGED, "process " + m.key() + ": sha256 changed"));
      }
    }
    if (listeners != null) {
      for (Measurement m : report.ofKind(Kind.LISTENER)) {
        String pp = protoPort(m.key());
        if (!listeners.contains(pp) && !listeners.contains(m.key())) {
          String addr = m.key().substring(m.key().indexOf('/') + 1, m.key().lastIndexOf(':'));
          out.add(new PostureFinding(PostureFinding.LISTENER_NEW, "new listener " + pp + " on " + addr + " by " + m.value()));
        }
      }
    }
    if (os != null) {
      for (var e : os.entrySet()) {
        Measurement m = report.get(Kind.OS, e.getKey());
        String have = m == null ? "(absent)" : m.value();
        if (!have.equals(e.getValue())) out.add(new PostureFinding(PostureFinding.OS_CHANGED, e.getKey() + " changed " + e.getValue() + " -> " + have));
      }
    }
    Collections.sort(out);
    return out;
  }

  /** The findings as one reason line, bounded. */
  public static String reason(List<PostureFinding> findings) {
    StringBuilder b = new StringBuilder();
    int n = 0;
    for (PostureFinding f : findings) {
      if (n == MAX_FINDINGS_IN_REASON) {
        b.append("; and ").append(findings.size() - n).append(" more");
        break;
      }
      if (n++ > 0) b.append("; ");
      b.append(f.text());
    }
    return b.toString();
  }

  private static String describeChange(String want, String have) {
    boolean hashes = want.matches("[0-9a-f]{64}") && have.matches("[0-9a-f]{64}");
    if (hashes) return "sha256 changed";
    if (have.startsWith("link:")) return "now a symlink to " + have.substring(5);
    if (have.equals("unreadable")) return "unreadable";
    return "changed";
  }

  private boolean underRoots(String path) {
    for (String r : fileRoots) if (r.equals("/") || path.equals(r) || path.startsWith(r + "/")) return true;
    return false;
  }

  /** A rule for {@code key} ({@code name} or {@code name:arch}): exact key first, then the base name. */
  private static String matchPackage(Map<String, String> rules, String key) {
    String exact = rules.get(key);
    if (exact != null) return exact;
    int colon = key.indexOf(':');
    return colon < 0 ? null : rules.get(key.substring(0, colon));
  }

  private static Measurement findPackage(List<Measurement> packages, String rule) {
    for (Measurement m : packages) {
      if (m.key().equals(rule) || (m.key().startsWith(rule + ":") && !rule.contains(":"))) return m;
    }
    return null;
  }

  static String protoPort(String listenerKey) {
    int slash = listenerKey.indexOf('/');
    int colon = listenerKey.lastIndexOf(':');
    return listenerKey.substring(0, slash) + "/" + listenerKey.substring(colon + 1);
  }

  private static String stripDeleted(String v) {
    return v.startsWith("deleted:") ? v.substring("deleted:".length()) : v;
  }

  public byte[] toJson() {
    try {
      return JSON.writeValueAsBytes(this);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Baseline fromJson(byte[] json) {
    if (json.length > MeasurementList.MAX_ENCODED_BYTES * 2) throw new IllegalArgumentException("baseline too large");
    try {
      return JSON.readValue(json, Baseline.class);
    } catch (IOException e) {
      Throwable c = e.getCause();
      if (c instanceof IllegalArgumentException iae) throw new IllegalArgumentException("invalid baseline: " + iae.getMessage());
      throw new IllegalArgumentException("invalid baseline JSON");
    }
  }

  /** A short human summary (counts), for the CLI. */
  public Map<String, Object> summary() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("source", source);
    m.put("trust_on_first_use", trustOnFirstUse());
    m.put("created_at", createdAt);
    m.put("files", files == null ? 0 : files.size());
    m.put("packages_required", packagesRequired == null ? 0 : packagesRequired.size());
    m.put("packages_forbidden", packagesForbidden == null ? List.of() : List.copyOf(packagesForbidden.keySet()));
    m.put("packages_known", packagesKnown == null ? 0 : packagesKnown.size());
    m.put("processes", processes == null ? "not judged" : processes.size());
    m.put("listeners", listeners == null ? "not judged" : listeners);
    return m;
  }
}
