package dev.m2mfa.authority.policy;

import dev.m2mfa.authority.policy.YamlTree.Entry;
import dev.m2mfa.authority.policy.YamlTree.ListNode;
import dev.m2mfa.authority.policy.YamlTree.MapNode;
import dev.m2mfa.authority.policy.YamlTree.Node;
import dev.m2mfa.authority.policy.YamlTree.Pos;
import dev.m2mfa.authority.policy.YamlTree.Scalar;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads policy files and compiles them into a {@link Policy}, collecting every problem with
 * its file, line and column instead of stopping at the first.
 *
 * <p>The format is YAML (see docs/policy.md). YAML rather than TOML: a class is a nested tree
 * (levels, each with groups, each with factors) and YAML writes such trees without the
 * repeated {@code [[classes.web.levels]]} headers TOML needs; Jackson's YAML parser is
 * already the project's JSON stack and reports a line and column for every token. The YAML
 * pitfalls are closed here: only the keys listed below are accepted, a key given twice is an
 * error, values are taken as text (so {@code on:} is a key, not a boolean), one document per
 * file, and files are bounded in size and count.
 *
 * <p>Hand-written because no library validates this schema with positions: JSON Schema
 * validators report JSON pointers, not lines, and would still leave the cross-checks (factor
 * names, level references, one acr order across classes) to code.
 */
final class PolicyLoader {
  /** Largest policy file read; larger ones are refused before parsing. */
  static final int MAX_FILE_BYTES = 256 * 1024;
  /** Most policy files read from the given paths together. */
  static final int MAX_FILES = 64;

  private static final Pattern CLASS_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  private static final Pattern LEVEL_NAME = Pattern.compile("[a-z][a-z0-9_-]{0,31}");
  private static final Pattern AUDIENCE = Pattern.compile("[\\x21-\\x7e]{1,200}");
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,6})([smh])");
  private static final List<String> TOP_KEYS = List.of("version", "classes");
  private static final List<String> CLASS_KEYS = List.of("levels", "audiences", "on", "ssh");
  private static final List<String> SSH_KEYS = List.of("principals", "user_certificate_lifetime", "host_certificate_lifetime",
      "force_command", "min_level");
  private static final Pattern SSH_DURATION = Pattern.compile("([0-9]{1,6})([smhd])");
  private static final List<String> LEVEL_KEYS = List.of("name", "all_of", "any_of", "token_lifetime", "certificate_lifetime");
  private static final List<String> ANY_OF_KEYS = List.of("k", "of");
  private static final Map<String, List<String>> RESPONSES = responses();

  /** A compiled policy with what it was built from. */
  record Loaded(Policy policy, List<String> files, String digest) {}

  private final Set<String> installed;
  private final List<PolicyError> errors = new ArrayList<>();
  private final Map<String, MachineClass> classes = new LinkedHashMap<>();
  private final Map<String, String> classOrigins = new HashMap<>();
  private final Map<String, PolicyError> classWhere = new HashMap<>();
  private String file;

  private PolicyLoader(Set<String> installed) {
    this.installed = new TreeSet<>(installed);
  }

  static Loaded load(List<Path> paths, Set<String> installedFactors) throws PolicyException {
    PolicyLoader loader = new PolicyLoader(installedFactors);
    List<Path> files = loader.expand(paths);
    MessageDigest digest = sha256();
    List<String> names = new ArrayList<>();
    for (Path f : files) {
      loader.file = f.toString();
      names.add(loader.file);
      byte[] bytes = loader.read(f);
      if (bytes == null) continue;
      digest.update(loader.file.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      digest.update((byte) 0);
      digest.update(bytes);
      digest.update((byte) 0);
      try {
        loader.compileFile(YamlTree.parse(bytes, MAX_FILE_BYTES));
      } catch (YamlTree.SyntaxError e) {
        loader.error(e.pos, e.getMessage());
      }
    }
    List<String> order = loader.order();
    if (!loader.errors.isEmpty()) {
      // files in the order given, and within a file by position
      List<String> fileOrder = new ArrayList<>();
      for (PolicyError e : loader.errors) if (!fileOrder.contains(e.file())) fileOrder.add(e.file());
      List<PolicyError> sorted = new ArrayList<>(loader.errors);
      sorted.sort(java.util.Comparator.comparingInt((PolicyError e) -> fileOrder.indexOf(e.file()))
          .thenComparingInt(PolicyError::line).thenComparingInt(PolicyError::column));
      throw new PolicyException(sorted);
    }
    return new Loaded(new Policy(loader.classes, order), List.copyOf(names), HexFormat.of().formatHex(digest.digest()));
  }

  // ---------------------------------------------------------------- files

  private List<Path> expand(List<Path> paths) {
    List<Path> out = new ArrayList<>();
    if (paths.isEmpty()) {
      errors.add(new PolicyError("(none)", 1, 1, "no policy file or directory given"));
    }
    for (Path p : paths) {
      file = p.toString();
      if (Files.isDirectory(p)) {
        List<Path> found;
        try (Stream<Path> s = Files.list(p)) {
          found = s.filter(f -> {
            String n = f.getFileName().toString();
            return !n.startsWith(".") && (n.endsWith(".yaml") || n.endsWith(".yml")) && Files.isRegularFile(f);
          }).sorted().toList();
        } catch (IOException e) {
          error(null, "cannot list the directory (" + e.getClass().getSimpleName() + ")");
          continue;
        }
        if (found.isEmpty()) error(null, "no policy files (*.yaml, *.yml) in this directory");
        out.addAll(found);
      } else if (!Files.exists(p)) {
        error(null, "no such file or directory");
      } else {
        out.add(p);
      }
    }
    if (out.size() > MAX_FILES) {
      file = out.get(MAX_FILES).toString();
      error(null, "too many policy files (at most " + MAX_FILES + ")");
      return out.subList(0, MAX_FILES);
    }
    return out;
  }

  private byte[] read(Path f) {
    try (InputStream in = Files.newInputStream(f)) {
      byte[] b = in.readNBytes(MAX_FILE_BYTES + 1);
      if (b.length > MAX_FILE_BYTES) {
        error(null, "file is larger than " + MAX_FILE_BYTES + " bytes (256 KiB)");
        return null;
      }
      return b;
    } catch (NoSuchFileException e) {
      error(null, "no such file or directory");
    } catch (IOException e) {
      error(null, "cannot read the file (" + e.getClass().getSimpleName() + ")");
    }
    return null;
  }

  // ---------------------------------------------------------------- schema

  private void compileFile(Node root) {
    if (!(root instanceof MapNode top)) {
      error(root.pos(), "the top level must be a mapping with the key 'classes'");
      return;
    }
    unknownKeys(top, TOP_KEYS, "unknown top-level key '%s' (expected: version, classes)");
    Entry version = top.entries().get("version");
    if (version != null && !(version.value() instanceof Scalar s && s.integer() && "1".equals(s.text()))) {
      error(version.value().pos(), "unsupported version " + show(version.value()) + " (this authority reads version 1)");
    }
    Entry cls = top.entries().get("classes");
    if (cls == null || cls.value() instanceof Scalar s && s.text() == null
        || cls.value() instanceof MapNode m && m.entries().isEmpty()) {
      error(cls == null ? new Pos(1, 1) : cls.key().pos(), "no classes defined (expected a 'classes' mapping with at least one class)");
      return;
    }
    if (!(cls.value() instanceof MapNode classMap)) {
      error(cls.value().pos(), "'classes' must be a mapping from class name to class");
      return;
    }
    for (Entry e : classMap.entries().values()) compileClass(e);
  }

  private void compileClass(Entry e) {
    String name = e.key().name();
    Pos at = e.key().pos();
    if (!CLASS_NAME.matcher(name).matches()) {
      error(at, "class name '" + name + "' must be 1-63 characters: letters, digits, '.', '_', '-', starting with a letter or digit");
      return;
    }
    String origin = file + ":" + at.line();
    String earlier = classOrigins.putIfAbsent(name, origin);
    if (earlier != null) {
      error(at, "class '" + name + "' is already defined at " + earlier);
      return;
    }
    if (!(e.value() instanceof MapNode body)) {
      error(e.value().pos(), "class '" + name + "' must be a mapping with 'levels'");
      return;
    }
    int before = errors.size();
    unknownKeys(body, CLASS_KEYS, "unknown key '%s' in class '" + name + "' (expected: levels, audiences, on, ssh)");
    List<String> levelNames = new ArrayList<>();
    List<Level> levels = levels(name, at, body.entries().get("levels"), levelNames);
    Map<String, String> audiences = audiences(name, body.entries().get("audiences"), levelNames);
    Responses responses = responses(body.entries().get("on"));
    Optional<SshGrant> ssh = ssh(name, body.entries().get("ssh"), levelNames);
    if (errors.size() != before || levels.isEmpty()) return;
    classes.put(name, new MachineClass(name, levels, audiences, responses, origin, ssh));
    classWhere.put(name, new PolicyError(file, at.line(), at.column(), ""));
  }

  /** The class's levels, or an empty list after reporting errors; {@code names} gets every level name seen. */
  private List<Level> levels(String cls, Pos classPos, Entry entry, List<String> names) {
    if (entry == null) {
      error(classPos, "class '" + cls + "' has no levels");
      return List.of();
    }
    if (!(entry.value() instanceof ListNode list) || list.items().isEmpty()) {
      error(entry.value().pos(), "'levels' of class '" + cls + "' must be a non-empty list of levels, weakest first");
      return List.of();
    }
    List<Level> out = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    Duration token = Policy.DEFAULT_TOKEN_LIFETIME;
    Duration cert = Policy.DEFAULT_CERTIFICATE_LIFETIME;
    boolean ok = true;
    int index = -1;
    for (Node item : list.items()) {
      index++;
      if (!(item instanceof MapNode lv)) {
        error(item.pos(), "a level must be a mapping with 'name' and 'all_of' and/or 'any_of'");
        ok = false;
        continue;
      }
      int before = errors.size();
      unknownKeys(lv, LEVEL_KEYS, "unknown key '%s' in level (expected: name, all_of, any_of, token_lifetime, certificate_lifetime)");
      Entry nameEntry = lv.entries().get("name");
      String name = nameEntry == null ? null : text(nameEntry.value());
      if (nameEntry == null) {
        error(lv.pos(), "level without a name");
      } else if (name == null || !LEVEL_NAME.matcher(name).matches()) {
        error(nameEntry.value().pos(), "level name " + show(nameEntry.value())
            + " must start with a lowercase letter and use only a-z, 0-9, '_', '-' (at most 32 characters)");
      } else if (seen.containsKey(name)) {
        error(nameEntry.value().pos(), "duplicate level '" + name + "' in class '" + cls + "' (first at line " + seen.get(name) + ")");
      } else {
        seen.put(name, nameEntry.value().pos().line());
        names.add(name);
      }
      List<FactorGroup> groups = new ArrayList<>();
      Entry all = lv.entries().get("all_of");
      if (all != null) {
        List<String> factors = factorList(all.value(), "all_of");
        if (factors != null) groups.add(FactorGroup.allOf(factors));
      }
      Entry any = lv.entries().get("any_of");
      if (any != null) {
        if (any.value() instanceof ListNode anyList) {
          if (anyList.items().isEmpty()) error(anyList.pos(), "any_of is empty");
          for (Node g : anyList.items()) anyOf(g, groups);
        } else {
          anyOf(any.value(), groups);
        }
      }
      if (all == null && any == null) {
        error(lv.pos(), "level '" + (name == null ? "?" : name) + "' requires nothing (give it all_of and/or any_of)");
      }
      token = lifetime(lv.entries().get("token_lifetime"), "token_lifetime", token, Level.MIN_TOKEN_LIFETIME, Level.MAX_TOKEN_LIFETIME);
      cert = lifetime(lv.entries().get("certificate_lifetime"), "certificate_lifetime", cert, Level.MIN_CERTIFICATE_LIFETIME,
          Level.MAX_CERTIFICATE_LIFETIME);
      if (index == 0 && errors.size() == before && groups.stream().noneMatch(g -> g.isAllOf() && g.of().contains("key"))) {
        error(lv.pos(), "the lowest level '" + name + "' must require key in all_of: the key factor checks the login signature");
      }
      if (errors.size() != before) {
        ok = false;
        continue;
      }
      out.add(new Level(name, out.size(), groups, token, cert));
    }
    return ok ? out : List.of();
  }

  private void anyOf(Node node, List<FactorGroup> groups) {
    if (!(node instanceof MapNode m)) {
      error(node.pos(), "any_of must be a mapping {k: N, of: [factors]} or a list of them");
      return;
    }
    unknownKeys(m, ANY_OF_KEYS, "unknown key '%s' in any_of (expected: k, of)");
    Entry of = m.entries().get("of");
    Entry k = m.entries().get("k");
    if (of == null) {
      error(m.pos(), "any_of needs 'of', the list of factors");
      return;
    }
    List<String> factors = factorList(of.value(), "any_of 'of'");
    if (k == null) {
      error(m.pos(), "any_of needs 'k', how many of its factors must pass");
      return;
    }
    if (!(k.value() instanceof Scalar ks && ks.integer())) {
      error(k.value().pos(), "k must be a whole number, got " + show(k.value()));
      return;
    }
    if (factors == null) return;
    long n;
    try {
      n = Long.parseLong(ks.text());
    } catch (NumberFormatException e) {
      n = Long.MAX_VALUE;
    }
    if (n < 1 || n > factors.size()) {
      error(ks.pos(), "k is " + ks.text() + " but must be between 1 and " + factors.size() + " (the number of factors in 'of')");
      return;
    }
    groups.add(new FactorGroup((int) n, factors));
  }

  /** The factor names of a group, or null after reporting why not. */
  private List<String> factorList(Node node, String what) {
    if (!(node instanceof ListNode list)) {
      error(node.pos(), what + " must be a list of factor names");
      return null;
    }
    if (list.items().isEmpty()) {
      error(list.pos(), what + " is empty");
      return null;
    }
    Set<String> out = new LinkedHashSet<>();
    boolean ok = true;
    for (Node item : list.items()) {
      String f = text(item);
      if (f == null || item instanceof Scalar s && s.integer()) {
        error(item.pos(), what + " must list factor names, got " + show(item));
        ok = false;
      } else if (!installed.contains(f)) {
        error(item.pos(), "unknown factor '" + f + "' (installed: " + String.join(", ", installed) + ")");
        ok = false;
      } else if (!out.add(f)) {
        error(item.pos(), "factor '" + f + "' is listed twice in this group");
        ok = false;
      }
    }
    return ok ? List.copyOf(out) : null;
  }

  private Duration lifetime(Entry e, String what, Duration inherited, Duration min, Duration max) {
    if (e == null) return inherited;
    String t = text(e.value());
    Matcher m = t == null ? null : DURATION.matcher(t);
    if (m == null || !m.matches()) {
      error(e.value().pos(), what + " " + show(e.value()) + " is not a duration (write e.g. 90s, 5m, 1h)");
      return inherited;
    }
    long n = Long.parseLong(m.group(1));
    Duration d = switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofHours(n);
    };
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      error(e.value().pos(), what + " " + t + " is out of bounds (" + Policy.format(min) + " to " + Policy.format(max) + ")");
      return inherited;
    }
    return d;
  }

  /** The class's {@code ssh:} block; empty when absent or after reporting errors. */
  private Optional<SshGrant> ssh(String cls, Entry entry, List<String> levelNames) {
    if (entry == null) return Optional.empty();
    if (!(entry.value() instanceof MapNode m)) {
      error(entry.value().pos(), "'ssh' of class '" + cls + "' must be a mapping (keys: " + String.join(", ", SSH_KEYS) + ")");
      return Optional.empty();
    }
    int before = errors.size();
    unknownKeys(m, SSH_KEYS, "unknown key '%s' in ssh (expected: " + String.join(", ", SSH_KEYS) + ")");
    SshGrant d = SshGrant.defaults();
    List<String> principals = d.principals();
    Entry p = m.entries().get("principals");
    if (p != null) {
      if (!(p.value() instanceof ListNode list) || list.items().isEmpty()) {
        error(p.value().pos(), "ssh principals must be a non-empty list of names (\"" + SshGrant.MACHINE + "\" is the machine's name)");
      } else if (list.items().size() > SshGrant.MAX_PRINCIPALS) {
        error(list.items().get(SshGrant.MAX_PRINCIPALS).pos(), "ssh principals list " + list.items().size()
            + " names; at most " + SshGrant.MAX_PRINCIPALS + " are allowed");
      } else {
        List<String> out = new ArrayList<>();
        for (Node item : list.items()) {
          String t = text(item);
          if (t == null) {
            error(item.pos(), "ssh principals must list names, got " + show(item));
            continue;
          }
          var problem = SshGrant.principalProblem(t);
          if (problem.isPresent()) {
            error(item.pos(), problem.get());
          } else if (out.contains(t)) {
            error(item.pos(), "principal '" + t + "' is listed twice");
          } else {
            out.add(t);
          }
        }
        principals = out;
      }
    }
    Duration user = sshLifetime(m.entries().get("user_certificate_lifetime"), "user_certificate_lifetime", d.userCertificateLifetime(),
        SshGrant.MIN_USER_LIFETIME, SshGrant.MAX_USER_LIFETIME);
    Duration host = sshLifetime(m.entries().get("host_certificate_lifetime"), "host_certificate_lifetime", d.hostCertificateLifetime(),
        SshGrant.MIN_HOST_LIFETIME, SshGrant.MAX_HOST_LIFETIME);
    Optional<String> force = Optional.empty();
    Entry f = m.entries().get("force_command");
    if (f != null) {
      String t = text(f.value());
      var problem = t == null ? Optional.of("force_command must be a command line, got " + show(f.value()))
          : SshGrant.forceCommandProblem(t);
      if (problem.isPresent()) error(f.value().pos(), problem.get());
      else force = Optional.of(t);
    }
    Optional<String> minLevel = Optional.empty();
    Entry ml = m.entries().get("min_level");
    if (ml != null) {
      String t = text(ml.value());
      if (t == null) {
        error(ml.value().pos(), "ssh min_level must name a level, got " + show(ml.value()));
      } else if (!levelNames.isEmpty() && !levelNames.contains(t)) {
        error(ml.value().pos(), "ssh min_level '" + t + "' is not a level of class '" + cls + "' (levels: "
            + String.join(", ", levelNames) + ")");
      } else {
        minLevel = Optional.of(t);
      }
    }
    if (errors.size() != before) return Optional.empty();
    return Optional.of(new SshGrant(principals, user, host, force, minLevel));
  }

  /** Like {@link #lifetime} but also in days ({@code 30d}), for certificate lifetimes beyond a day. */
  private Duration sshLifetime(Entry e, String what, Duration fallback, Duration min, Duration max) {
    if (e == null) return fallback;
    String t = text(e.value());
    Matcher m = t == null ? null : SSH_DURATION.matcher(t);
    if (m == null || !m.matches()) {
      error(e.value().pos(), what + " " + show(e.value()) + " is not a duration (write e.g. 90s, 10m, 8h, 7d)");
      return fallback;
    }
    long n = Long.parseLong(m.group(1));
    Duration d = switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
    if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
      error(e.value().pos(), what + " " + t + " is out of bounds (" + withDays(min) + " to " + withDays(max) + ")");
      return fallback;
    }
    return d;
  }

  private static String withDays(Duration d) {
    return d.toSeconds() % 86_400 == 0 && d.toSeconds() > 86_400 ? d.toDays() + "d" : Policy.format(d);
  }

  private Map<String, String> audiences(String cls, Entry entry, List<String> names) {
    Map<String, String> out = new LinkedHashMap<>();
    if (entry == null) return out;
    if (!(entry.value() instanceof MapNode m)) {
      error(entry.value().pos(), "'audiences' must be a mapping from audience to level name");
      return out;
    }
    for (Entry a : m.entries().values()) {
      String audience = a.key().name();
      if (!AUDIENCE.matcher(audience).matches()) {
        error(a.key().pos(), "audience '" + audience + "' must be 1-200 printable ASCII characters without spaces");
        continue;
      }
      String level = text(a.value());
      if (level == null) {
        error(a.value().pos(), "audience '" + audience + "' must name a level, got " + show(a.value()));
      } else if (!names.isEmpty() && !names.contains(level)) {
        error(a.value().pos(), "audience '" + audience + "' requires unknown level '" + level + "' (levels of class '" + cls + "': "
            + String.join(", ", names) + ")");
      } else {
        out.put(audience, level);
      }
    }
    return out;
  }

  private Responses responses(Entry entry) {
    if (entry == null) return Responses.DEFAULTS;
    if (!(entry.value() instanceof MapNode m)) {
      error(entry.value().pos(), "'on' must be a mapping from event to response");
      return Responses.DEFAULTS;
    }
    unknownKeys(m, List.copyOf(RESPONSES.keySet()), "unknown event '%s' in on (expected: clone, factor_failure, anomaly, posture_mismatch)");
    Response clone = response(m, "clone", Responses.DEFAULTS.onClone());
    Response failure = response(m, "factor_failure", Responses.DEFAULTS.factorFailure());
    Response anomaly = response(m, "anomaly", Responses.DEFAULTS.anomaly());
    Response posture = response(m, "posture_mismatch", Responses.DEFAULTS.postureMismatch());
    return new Responses(clone, failure, anomaly, posture);
  }

  private Response response(MapNode m, String event, Response fallback) {
    Entry e = m.entries().get(event);
    if (e == null) return fallback;
    List<String> allowed = RESPONSES.get(event);
    String t = text(e.value());
    if (t == null || !allowed.contains(t)) {
      error(e.value().pos(), "unknown response " + show(e.value()) + " for " + event + " (expected: " + String.join(", ", allowed) + ")");
      return fallback;
    }
    return Response.valueOf(t.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
  }

  private static Map<String, List<String>> responses() {
    Map<String, List<String>> m = new LinkedHashMap<>();
    m.put("clone", List.of("lock"));
    m.put("factor_failure", List.of("deny", "step-up"));
    m.put("anomaly", List.of("alert", "step-up", "quarantine"));
    m.put("posture_mismatch", List.of("deny", "step-down", "alert"));
    return m;
  }

  // ---------------------------------------------------------------- across classes

  private List<String> order() {
    Map<String, Set<String>> edges = new HashMap<>();
    for (MachineClass c : classes.values()) {
      var conflict = Policy.addOrder(edges, c);
      if (conflict.isPresent()) {
        String[] pair = conflict.get();
        PolicyError where = classWhere.get(c.name());
        errors.add(new PolicyError(where.file(), where.line(), where.column(), "class '" + c.name() + "' puts " + pair[0] + " below "
            + pair[1] + ", but an earlier class orders them the other way round (acr values need one order across all classes)"));
      }
    }
    if (!errors.isEmpty() || classes.isEmpty()) {
      if (errors.isEmpty()) errors.add(new PolicyError(file == null ? "(none)" : file, 1, 1, "no classes defined"));
      return List.of();
    }
    String[] incomparable = new String[2];
    List<String> order = Policy.mergeOrder(classes.values(), edges, incomparable);
    if (order.isEmpty()) {
      MachineClass first = classWith(incomparable[0]);
      MachineClass second = classWith(incomparable[1]);
      PolicyError where = classWhere.get(second.name());
      errors.add(new PolicyError(where.file(), where.line(), where.column(), "class '" + second.name() + "': " + incomparable[1]
          + " has no order against " + incomparable[0] + " of class '" + first.name() + "' (acr values need one order across all"
          + " classes: let the classes share level names, e.g. all start at the same lowest level)"));
    }
    return order;
  }

  private MachineClass classWith(String acr) {
    for (MachineClass c : classes.values()) if (c.levelForAcr(acr).isPresent()) return c;
    throw new IllegalStateException("no class has " + acr);
  }

  // ---------------------------------------------------------------- helpers

  private void unknownKeys(MapNode m, List<String> allowed, String messageFormat) {
    for (Entry e : m.entries().values()) {
      if (!allowed.contains(e.key().name())) error(e.key().pos(), String.format(messageFormat, e.key().name()));
    }
  }

  private static String text(Node n) {
    return n instanceof Scalar s ? s.text() : null;
  }

  /** A value as it appears in a message: 'text', or the kind of node. */
  private static String show(Node n) {
    return switch (n) {
      case Scalar s when s.text() == null -> "null";
      case Scalar s -> "'" + (s.text().length() > 40 ? s.text().substring(0, 40) + "..." : s.text()) + "'";
      case MapNode m -> "a mapping";
      case ListNode l -> "a list";
    };
  }

  private void error(Pos pos, String message) {
    errors.add(new PolicyError(file, pos == null ? 1 : pos.line(), pos == null ? 1 : pos.column(), message));
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
